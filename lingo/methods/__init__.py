"""Fine-tuning methods: full fine-tuning and PEFT adapters on the paper's target matrices."""

from lingo.methods.adapters import apply_method
from lingo.methods.targets import target_regex

__all__ = ["apply_method", "target_regex"]
