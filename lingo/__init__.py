"""Lingo: fine-tune language models on DNA with genomic adapters."""

import os

# Offline unless asked otherwise (HF_HUB_OFFLINE=0): without a network, the hub client retries
# each file for about a minute before it fails. Set here, before transformers is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lingo.errors import LingoError

__all__ = ["LingoError"]
