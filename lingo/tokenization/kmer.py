"""K-mer tokens (``kmer``), each a dedicated new id."""

from itertools import product
from typing import Self

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig
from lingo.tokenization.base import length_settings
from lingo.tokenization.registry import register
from lingo.tokenization.text import TextTokenizer, load_text_tokenizer


@register
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

    @classmethod
    def from_config(cls, tokenizer: TokenizerConfig, model: ModelConfig,
                    prompt: PromptConfig) -> Self:
        """The one tokenizer that works without the model's files (the demo)."""
        hf = load_text_tokenizer(model) if model.tokenizer or model.gguf_file else None
        return cls(tokenizer.k, tokenizer.stride, hf=hf, prompt=prompt,
                   **length_settings(tokenizer))

    def settings(self) -> str:
        return f"{super().settings()}|k={self.k}|stride={self.stride}"

    def dna_ids(self, sequence: str) -> list[int]:
        k = self.k
        return [self.ids.get(sequence[i : i + k], self.unk_id)
                for i in range(0, len(sequence) - k + 1, self.stride)]

    def base_spans(self, sequence: str) -> list[tuple[int, int]]:
        return [(i, i + self.k) for i in range(0, len(sequence) - self.k + 1, self.stride)]

    def dropped_bases(self, sequence: str) -> int:
        """Bases after the last k-mer that start no k-mer of their own."""
        if len(sequence) < self.k:
            return len(sequence)
        last_start = (len(sequence) - self.k) // self.stride * self.stride
        return len(sequence) - (last_start + self.k)
