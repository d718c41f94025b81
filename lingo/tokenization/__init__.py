"""DNA tokenizers behind one interface, the prompt around the DNA, and cached tokenized splits.
Every module of this package is imported here, so a new tokenizer registers itself
(registry.py)."""

import importlib
import pkgutil

from lingo.tokenization.base import DNATokenizer
from lingo.tokenization.dataset import tokenize_split
from lingo.tokenization.factory import build_tokenizer
from lingo.tokenization.registry import TOKENIZERS, tokenizer_names

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["TOKENIZERS", "DNATokenizer", "build_tokenizer", "tokenize_split", "tokenizer_names"]
