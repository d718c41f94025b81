"""Methods without an adapter: every weight trained (FMFT), the head alone (the probe), and the
classical baselines' none (the model trained as it is)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lingo.errors import LingoError
from lingo.methods.heads import HEAD_MODULES, is_head
from lingo.methods.registry import Method, register

if TYPE_CHECKING:
    from torch import nn


@register
class FullFineTuning(Method):
    name = "fmft"
    label = "FMFT"
    order = 1

    def wrap(self, net: nn.Module) -> nn.Module:
        return net


@register
class Probe(Method):
    """The floor every adapter is read against: the backbone frozen, the head trained."""

    name = "probe"
    label = "Probe (head only)"
    order = 0
    in_paper = False

    def wrap(self, net: nn.Module) -> nn.Module:
        for name, parameter in net.named_parameters():
            parameter.requires_grad_(is_head(name))
        if not any(p.requires_grad for p in net.parameters()):
            raise LingoError(f"method={self.name} trains the classification head alone, and "
                             f"this model has none named {' or '.join(HEAD_MODULES)}")
        return net


@register
class NoMethod(FullFineTuning):
    """A classical baseline (model=kmer_lr, cnn) trains as it is: lingo.baselines."""

    name = "none"
    label = "—"
    order = 6
    in_paper = False
