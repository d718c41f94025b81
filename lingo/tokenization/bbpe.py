"""GPT-2 byte-level BPE on DNA (``bbpe``): OPT's own tokenizer, Table 1's "BBPE"."""

from typing import Self

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig
from lingo.errors import LingoError
from lingo.tokenization.native import NativeTokenizer
from lingo.tokenization.registry import register


@register
class BBPETokenizer(NativeTokenizer):
    """The native tokenizer of OPT, named for Table 1; refused on any other model."""

    name = "bbpe"

    @classmethod
    def from_config(cls, tokenizer: TokenizerConfig, model: ModelConfig,
                    prompt: PromptConfig) -> Self:
        if model.arch != "opt":
            raise LingoError(
                f"tokenizer=bbpe is GPT-2's byte-level BPE, which is OPT's own tokenizer; on "
                f"model={model.name} it would replace the whole vocabulary. Use tokenizer=native"
            )
        return super().from_config(tokenizer, model, prompt)
