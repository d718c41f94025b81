"""One interface for every way of turning DNA into token ids."""

import hashlib
import logging
from abc import ABC, abstractmethod

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig
from lingo.errors import LingoError

log = logging.getLogger(__name__)


class DNATokenizer(ABC):
    """Turns DNA strings into model inputs: special tokens, prompt and truncation included.

    ``max_length`` counts every token. Truncation only ever removes DNA (from the 3' end), never
    the prompt's prefix or suffix.
    """

    name: str
    pad_token_id: int
    max_length: int

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def identity(self) -> str:
        """Everything that changes the ids (vocabulary, settings, prompt): keys the cache."""

    @abstractmethod
    def encode(self, sequences: list[str]) -> tuple[list[list[int]], int]:
        """Input ids per sequence, and how many sequences lost DNA to truncation."""

    @abstractmethod
    def decode(self, ids: list[int]) -> str: ...

    def fingerprint(self) -> str:
        return hashlib.sha256(self.identity().encode()).hexdigest()[:16]


def build_tokenizer(
    tokenizer: TokenizerConfig, model: ModelConfig, prompt: PromptConfig
) -> DNATokenizer:
    if (prompt.prefix or prompt.suffix) and not model.natural_language:
        raise LingoError(
            f"the Lingo prompt is natural language, and model={model.name} reads DNA only "
            "(not applicable to DNA foundation models, as in the paper); use method=ars"
        )
    if tokenizer.name == "native":
        from lingo.tokenization.native import NativeTokenizer

        return NativeTokenizer.load(model, prompt, tokenizer.max_length, tokenizer.protect_prompt)
    if tokenizer.name == "kmer":
        from lingo.tokenization.kmer import KmerTokenizer

        if prompt.prefix or prompt.suffix:
            raise LingoError(
                "tokenizer=kmer has no text vocabulary for the prompt; use tokenizer=native "
                "with a prompt, or a method without one"
            )
        return KmerTokenizer(tokenizer.k, tokenizer.stride, tokenizer.max_length)
    raise LingoError(f"tokenizer={tokenizer.name!r} is unknown; use native or kmer")


def truncate_dna(ids: list[int], budget: int) -> tuple[list[int], bool]:
    """Keep the 5' start: drop tokens past the budget."""
    return (ids[:budget], True) if len(ids) > budget else (ids, False)
