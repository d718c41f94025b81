"""The paper's "words" tokenizer (``char``): the vocabulary's own single letters."""

from lingo.config import PromptConfig
from lingo.errors import LingoError
from lingo.tokenization.base import BASES
from lingo.tokenization.registry import register
from lingo.tokenization.text import TextTokenizer


@register
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

    def base_spans(self, sequence: str) -> list[tuple[int, int]]:
        return [(i, i + 1) for i in range(len(sequence))]

    def dna_ids(self, sequence: str) -> list[int]:
        return [self.ids[base] for base in sequence]
