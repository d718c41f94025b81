"""LoRA (PEFT) at rank method.r."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lingo.methods.peft_adapter import adapter_settings, with_adapter
from lingo.methods.registry import Method, register

if TYPE_CHECKING:
    from torch import nn


@register
class LoRA(Method):
    name = "lora"
    label = "LoRA"
    order = 2
    adapter = True

    def wrap(self, net: nn.Module) -> nn.Module:
        from peft import LoraConfig

        return with_adapter(net, LoraConfig(r=self.config.r,
                                            **adapter_settings(self.config, self.context)))
