"""DNA tokenizers behind one interface, the prompt around the DNA, and cached tokenized splits."""

from lingo.tokenization.base import DNATokenizer, build_tokenizer
from lingo.tokenization.dataset import tokenize_split

__all__ = ["DNATokenizer", "build_tokenizer", "tokenize_split"]
