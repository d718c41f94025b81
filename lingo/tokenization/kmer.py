"""Per-nucleotide and k-mer tokens with dedicated new ids, and the "words" tokenizer."""

from itertools import product

from lingo.config import PromptConfig
from lingo.errors import LingoError
from lingo.tokenization.text import TextTokenizer

BASES = "ACGTN"
PAPER_ONEHOT_IDS = {"A": 5, "C": 6, "G": 7, "T": 8}  # OPT's "the , to and", as the paper's code


class OneHotTokenizer(TextTokenizer):
    """One token per nucleotide: dedicated new ids for A, C, G, T and N (their embedding rows are
    added and trained). ``paper_ids=True`` is the paper code's: ids 5-8 of the existing
    vocabulary (N as unknown), padding with id 0, attention over the padding."""

    name = "onehot"

    def __init__(self, hf, prompt: PromptConfig, max_length: int, truncate: str = "right",
                 protect_prompt: bool = True, paper_ids: bool = False) -> None:
        super().__init__(hf, prompt, max_length, truncate, protect_prompt)
        self.paper_ids = paper_ids
        if paper_ids:
            self.ids = {**PAPER_ONEHOT_IDS, "N": self.unk_id}
            self.pad_token_id, self.attend_to_padding = 0, True
        else:
            self.ids = self.add_tokens(list(BASES))

    def settings(self) -> str:
        return f"{super().settings()}|paper_ids={self.paper_ids}"

    def dna_ids(self, sequence: str) -> list[int]:
        return [self.ids[base] for base in sequence]


class KmerTokenizer(TextTokenizer):
    """``k``-mers every ``stride`` bases (1: overlapping, as DNABERT-1; k: non-overlapping, as
    NT), each a new id; any k-mer with N is one dedicated unknown-k-mer id; a tail shorter than k
    is dropped. Without a text tokenizer it uses a built-in vocabulary (the offline demo)."""

    name = "kmer"
    dna_separator = " "

    def __init__(self, k: int, stride: int, max_length: int, hf=None,
                 prompt: PromptConfig | None = None, truncate: str = "right",
                 protect_prompt: bool = True) -> None:
        if k < 1 or not 1 <= stride <= k:
            raise ValueError(f"need k >= 1 and 1 <= stride <= k (k={k}, stride={stride})")
        super().__init__(hf, prompt or PromptConfig(), max_length, truncate, protect_prompt)
        self.k, self.stride = k, stride
        kmers = ["".join(p) for p in product("ACGT", repeat=k)]
        if hf is None:  # built-in: <pad> <cls> <unk>, then the k-mers
            self.ids = self.add_tokens(kmers)
        else:
            self.ids = self.add_tokens([*kmers, "<unk-kmer>"])
            self.unk_id = self.ids.pop("<unk-kmer>")

    def settings(self) -> str:
        return f"{super().settings()}|k={self.k}|stride={self.stride}"

    def dna_ids(self, sequence: str) -> list[int]:
        k = self.k
        return [self.ids.get(sequence[i : i + k], self.unk_id)
                for i in range(0, len(sequence) - k + 1, self.stride)]

    def dropped_bases(self, sequence: str) -> int:
        """Bases after the last k-mer that start no k-mer of their own."""
        if len(sequence) < self.k:
            return len(sequence)
        last_start = (len(sequence) - self.k) // self.stride * self.stride
        return len(sequence) - (last_start + self.k)


class CharTokenizer(TextTokenizer):
    """The "words" tokenizer of the paper's Figure 1e: one token per nucleotide from the existing
    vocabulary's bare single letters ("A", not "ĠA"); no new ids."""

    name = "char"

    def __init__(self, hf, prompt: PromptConfig, max_length: int, truncate: str = "right",
                 protect_prompt: bool = True) -> None:
        super().__init__(hf, prompt, max_length, truncate, protect_prompt)
        vocab = hf.get_vocab()
        missing = [base for base in BASES if base not in vocab]
        if missing:
            raise LingoError(
                f"tokenizer=char needs single-letter tokens for {', '.join(missing)} in the "
                "model's vocabulary, which has none; use tokenizer=onehot"
            )
        self.ids = {base: vocab[base] for base in BASES}

    def dna_ids(self, sequence: str) -> list[int]:
        return [self.ids[base] for base in sequence]
