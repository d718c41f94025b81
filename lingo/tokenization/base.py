"""One interface for every way of turning DNA into token ids.

Every tokenizer splits an input into the prompt prefix (as the model sees it), the DNA tokens,
and the suffix; special tokens and the prompt come from the model's own text tokenizer. The
shared :meth:`DNATokenizer.encode` assembles them and truncates the DNA only, so the prompt
always survives.
"""

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Self

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig
from lingo.errors import LingoError

BASES = "ACGTN"  # the letters of a checked sequence, in the order per-base tokens take ids


@dataclass(frozen=True)
class Encoded:
    ids: list[list[int]]
    dna_tokens: list[int]  # DNA tokens each sequence needs (before truncation)
    truncated: list[bool]  # whether each sequence lost DNA to truncation


class DNATokenizer(ABC):
    """DNA strings to model inputs. ``max_length`` counts every token (specials and prompt
    included); ``truncate`` says which DNA to drop when it does not fit (right: keep the 5'
    start). ``protect_prompt=False`` is the paper code's right cut of the whole text."""

    name: str
    dna_separator = ""  # between DNA tokens in decode (k-mers read better apart)

    def __init__(self, max_length: int, truncate: str = "right", protect_prompt: bool = True):
        self.max_length, self.truncate, self.protect_prompt = max_length, truncate, protect_prompt
        self.head: list[int] = []  # special tokens before the input
        self.tail: list[int] = []  # special tokens after it
        self.suffix_ids: list[int] = []
        self.new_token_ids: list[int] = []  # ids added to the model's vocabulary (trainable rows)
        self.attend_to_padding = False  # the paper code's one-hot only
        self.pad_token_id = 0

    @classmethod
    @abstractmethod
    def from_config(cls, tokenizer: TokenizerConfig, model: ModelConfig,
                    prompt: PromptConfig) -> Self:
        """The tokenizer ``tokenizer.name`` for ``model``; refuses a model it does not fit."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """How many embedding rows the model needs."""

    @abstractmethod
    def vocabulary(self) -> str:
        """Everything that changes the ids besides the settings: keys the cache."""

    @abstractmethod
    def pieces(self, sequence: str) -> tuple[list[int], list[int]]:
        """(the prompt prefix as the model sees it, the DNA tokens)."""

    @abstractmethod
    def decode(self, ids: list[int]) -> str: ...

    def preview(self, ids: list[int]) -> str:
        """The input as the model reads it (``inputs_preview.txt``)."""
        return self.decode(ids)

    def settings(self) -> str:
        return f"{self.max_length}|{self.truncate}|{self.protect_prompt}"

    def dropped_bases(self, sequence: str) -> int:
        """Bases no token covers (a k-mer tokenizer's short tail); 0 for lossless ones."""
        return 0

    def base_spans(self, sequence: str) -> list[tuple[int, int]]:
        """The bases ``[start, end)`` each DNA token covers, in token order (attributions are
        spread over them): by default the letters each token decodes to, one after another."""
        spans, start = [], 0
        for token in self.pieces(sequence)[1]:
            width = sum(c in BASES for c in self.decode([token]))
            spans.append((start, start + width))
            start += width
        if start != len(sequence) - self.dropped_bases(sequence):
            raise LingoError(f"tokenizer {self.name}: its DNA tokens spell {start} bases of a "
                             f"{len(sequence)}-bp sequence, so they cannot be mapped to bases")
        return spans

    def identity(self) -> str:
        return f"{type(self).__name__}|{self.vocabulary()}|{self.settings()}"

    def fingerprint(self) -> str:
        return hashlib.sha256(self.identity().encode()).hexdigest()[:16]

    def encode_with_counts(self, sequences: list[str]) -> Encoded:
        room = self.max_length - len(self.head) - len(self.tail) - len(self.suffix_ids)
        out, needed, truncated = [], [], []
        for sequence in sequences:
            prefix, dna = self.pieces(sequence)
            needed.append(len(dna))
            if self.protect_prompt:
                if room - len(prefix) < 1:
                    raise LingoError(
                        f"tokenizer.max_length={self.max_length} leaves no room for DNA after "
                        f"the prompt ({len(prefix) + len(self.suffix_ids)} tokens); raise it"
                    )
                dna, cut = truncate_dna(dna, room - len(prefix), self.truncate)
                ids = self.head + prefix + dna + self.suffix_ids + self.tail
            else:  # the paper code: the whole text cut at the right, suffix first
                ids, _ = truncate_dna(self.head + prefix + dna + self.suffix_ids + self.tail,
                                      self.max_length, "right")
                cut = len(dna) > self.max_length - len(self.head) - len(prefix)
            truncated.append(cut)
            out.append(ids)
        return Encoded(out, needed, truncated)

    def encode(self, sequences: list[str]) -> tuple[list[list[int]], int]:
        """Input ids per sequence, and how many sequences lost DNA to truncation."""
        encoded = self.encode_with_counts(sequences)
        return encoded.ids, sum(encoded.truncated)


def length_settings(tokenizer: TokenizerConfig) -> dict[str, Any]:
    """``max_length`` and how an input is fitted into it: the constructor arguments every
    tokenizer takes from its config."""
    return dict(max_length=tokenizer.max_length, truncate=tokenizer.truncate,
                protect_prompt=tokenizer.protect_prompt)


def truncate_dna(ids: list[int], budget: int, side: str = "right") -> tuple[list[int], bool]:
    """Fit ``ids`` into ``budget`` tokens: right keeps the 5' start, left the 3' end, center the
    middle."""
    if len(ids) <= budget:
        return ids, False
    if side == "right":
        return ids[:budget], True
    if side == "left":
        return ids[len(ids) - budget :], True
    start = (len(ids) - budget) // 2
    return ids[start : start + budget], True
