"""What LoRA and the AdaLoRA family share: PEFT's settings for the paper's target matrices, and
the wrapping itself. The head is always trained (PEFT's SEQ_CLS task type puts ``score`` /
``classifier`` in ``modules_to_save``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lingo.config import MethodConfig
from lingo.methods.registry import RunContext
from lingo.methods.targets import target_regex

if TYPE_CHECKING:
    from torch import nn


def adapter_settings(config: MethodConfig, context: RunContext) -> dict[str, Any]:
    """Embedding rows of tokens the tokenizer added (one-hot, k-mer) are trained through PEFT's
    ``trainable_token_indices``."""
    from peft import TaskType

    return dict(
        task_type=TaskType.SEQ_CLS,
        target_modules=target_regex(context.arch, list(config.targets)),
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        trainable_token_indices=list(context.new_token_ids) or None,
    )


def with_adapter(net: nn.Module, peft_config: Any) -> nn.Module:
    from peft import get_peft_model

    from lingo.models import peft_deprecation_silenced

    with peft_deprecation_silenced():
        return get_peft_model(net, peft_config)
