"""From the tokenizer, model and prompt configs to a DNA tokenizer."""

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig, check_prompt_applies
from lingo.errors import LingoError
from lingo.tokenization.base import DNATokenizer
from lingo.tokenization.kmer import CharTokenizer, KmerTokenizer, OneHotTokenizer
from lingo.tokenization.native import BBPETokenizer, NativeTokenizer
from lingo.tokenization.text import load_text_tokenizer

NAMES = ("native", "bbpe", "onehot", "kmer", "char")


def build_tokenizer(
    tokenizer: TokenizerConfig, model: ModelConfig, prompt: PromptConfig
) -> DNATokenizer:
    check_prompt_applies(model, prompt)
    name = tokenizer.name
    if name not in NAMES:
        raise LingoError(f"tokenizer={name!r} is unknown; use one of {', '.join(NAMES)}")
    if name == "bbpe" and model.arch != "opt":
        raise LingoError(
            f"tokenizer=bbpe is GPT-2's byte-level BPE, which is OPT's own tokenizer; on "
            f"model={model.name} it would replace the whole vocabulary. Use tokenizer=native"
        )
    common = dict(
        max_length=tokenizer.max_length,
        truncate=tokenizer.truncate,
        protect_prompt=tokenizer.protect_prompt,
    )
    if name == "kmer":  # the only one that works without the model's files (the demo)
        hf = load_text_tokenizer(model) if model.tokenizer or model.gguf_file else None
        return KmerTokenizer(tokenizer.k, tokenizer.stride, hf=hf, prompt=prompt, **common)
    hf = load_text_tokenizer(model)
    if name == "onehot":
        return OneHotTokenizer(hf, prompt, paper_ids=tokenizer.paper_onehot, **common)
    if name == "char":
        return CharTokenizer(hf, prompt, **common)
    return (BBPETokenizer if name == "bbpe" else NativeTokenizer)(hf, prompt, **common)
