"""From the tokenizer, model and prompt configs to a DNA tokenizer."""

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig, check_prompt_applies
from lingo.tokenization.base import DNATokenizer
from lingo.tokenization.registry import tokenizer_class


def build_tokenizer(
    tokenizer: TokenizerConfig, model: ModelConfig, prompt: PromptConfig
) -> DNATokenizer:
    """The registered tokenizer ``tokenizer.name``, after the checks every tokenizer shares."""
    check_prompt_applies(model, prompt)
    return tokenizer_class(tokenizer.name).from_config(tokenizer, model, prompt)
