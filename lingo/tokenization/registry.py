"""Tokenizers by their config name (``tokenizer.name``, set by ``conf/tokenizer/<name>.yaml``).

Each tokenizer class registers itself with :func:`register`, and the package imports every one of
its modules, so a new tokenizer is one YAML file plus one module, with no list to extend. No
tokenizer module imports torch or transformers at module level (the model's text tokenizer is
loaded when a tokenizer is built), so reading the names stays cheap.
"""

from typing import TYPE_CHECKING, TypeVar

from lingo.errors import LingoError

if TYPE_CHECKING:
    from lingo.tokenization.base import DNATokenizer

TOKENIZERS: dict[str, type["DNATokenizer"]] = {}
T = TypeVar("T", bound="DNATokenizer")


def register(tokenizer: type[T]) -> type[T]:
    """Class decorator: the class answers to ``tokenizer=<tokenizer.name>``."""
    if tokenizer.name in TOKENIZERS:
        raise ValueError(f"tokenizer {tokenizer.name!r} is registered twice")
    TOKENIZERS[tokenizer.name] = tokenizer
    return tokenizer


def tokenizer_names() -> tuple[str, ...]:
    """Every ``tokenizer.name``, sorted."""
    return tuple(sorted(TOKENIZERS))


def tokenizer_class(name: str) -> type["DNATokenizer"]:
    if name not in TOKENIZERS:
        raise LingoError(f"tokenizer={name!r} is unknown; use one of "
                         f"{', '.join(tokenizer_names())}")
    return TOKENIZERS[name]
