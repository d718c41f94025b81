"""DNA tokenizers behind one interface, the prompt around the DNA, and cached tokenized splits."""

from lingo.tokenization.base import DNATokenizer
from lingo.tokenization.dataset import tokenize_split
from lingo.tokenization.factory import build_tokenizer

__all__ = ["DNATokenizer", "build_tokenizer", "tokenize_split"]
