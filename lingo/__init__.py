"""Lingo: fine-tune language models on DNA with genomic adapters."""

from lingo.errors import LingoError

__all__ = ["LingoError"]
