"""The classification head: trained by every method, and at its own rate with trainer.head_lr."""

# The head's module names in every architecture (PEFT's SEQ_CLS names)
HEAD_MODULES = ("score", "classifier")


def is_head(parameter_name: str) -> bool:
    """``score.weight``, ``base_model.model.score.modules_to_save.default.weight``, ..."""
    return any(part in HEAD_MODULES for part in parameter_name.split("."))
