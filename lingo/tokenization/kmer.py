"""Per-nucleotide and k-mer tokens with dedicated new ids, and the "words" tokenizer."""

from itertools import product

from lingo.config import PromptConfig
from lingo.errors import LingoError
from lingo.tokenization.base import Encoded
from lingo.tokenization.text import TextTokenizer

BASES = "ACGTN"
# The paper's one-hot code (github zhanglab-aim/LINGO, finetune/DNA_llm_test_domain_1hot.py):
# token_dict (lines 221-231) gives A 5, T 6, C 7, G 8 (OPT's "the , to and"); any other
# character, N included, gets its "[UNK]" 1 (line 271), which is OPT's pad id; rows are padded
# with its "[PAD]" 0 (line 299).
PAPER_ONEHOT_IDS = {"A": 5, "T": 6, "C": 7, "G": 8}
PAPER_ONEHOT_UNK = 1
PAPER_ONEHOT_PAD = 0


class OneHotTokenizer(TextTokenizer):
    """One token per nucleotide: dedicated new ids for A, C, G, T and N (their embedding rows are
    added and trained). ``paper_ids=True`` is the paper code's (DNA_llm_test_domain_1hot.py):
    ids 5-8 of the existing vocabulary, any other character 1; no BOS (the prompt is encoded
    with ``add_special_tokens=False``, lines 264-265, and the row is prefix + DNA + suffix, line
    287); never truncated, and padded with 0 up to ``max_length`` inside the row (lines
    295-299), so the padding is attended and the head of OPT (pad id 1) reads the row's last
    position, as there. What remains different: there the collator masks every id 1
    (``input_ids.ne(pad_token_id)``, line 332), so an N is masked; here it is attended."""

    name = "onehot"

    def __init__(self, hf, prompt: PromptConfig, max_length: int, truncate: str = "right",
                 protect_prompt: bool = True, paper_ids: bool = False) -> None:
        super().__init__(hf, prompt, max_length, truncate, protect_prompt)
        self.paper_ids = paper_ids
        if paper_ids:
            self.ids = dict(PAPER_ONEHOT_IDS)
            self.unk_id = PAPER_ONEHOT_UNK
            self.head, self.tail = [], []  # no BOS
            # the model's own pad id (OPT: 1), as the script's collator and model config had:
            # the row's 0s are not padding to the head, which reads the last position
            self.pad_token_id = hf.pad_token_id
        else:
            self.ids = self.add_tokens(list(BASES))

    def settings(self) -> str:
        paper = (f"|{sorted(self.ids.items())}|unk={self.unk_id}|no BOS|pad "
                 f"{PAPER_ONEHOT_PAD} to max_length, never truncated") if self.paper_ids else ""
        return f"{super().settings()}|paper_ids={self.paper_ids}{paper}"

    def dna_ids(self, sequence: str) -> list[int]:
        if self.paper_ids:
            return [self.ids.get(base, self.unk_id) for base in sequence]
        return [self.ids[base] for base in sequence]

    def encode_with_counts(self, sequences: list[str]) -> Encoded:
        if not self.paper_ids:
            return super().encode_with_counts(sequences)
        out, needed = [], []
        for sequence in sequences:
            prefix, dna = self.pieces(sequence)
            ids = prefix + dna + self.suffix_ids
            out.append(ids + [PAPER_ONEHOT_PAD] * (self.max_length - len(ids)))
            needed.append(len(dna))
        return Encoded(out, needed, [False] * len(out))

    def preview(self, ids: list[int]) -> str:
        """The paper code's padding shown as a count, after the suffix."""
        if not self.paper_ids:
            return super().preview(ids)
        n = len(ids)
        while n and ids[n - 1] == PAPER_ONEHOT_PAD:
            n -= 1
        padding = f" [+{len(ids) - n} x id {PAPER_ONEHOT_PAD}]" if n < len(ids) else ""
        return super().preview(ids[:n]) + padding


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
