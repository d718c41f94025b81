"""A fine-tuning method is one unit: a :class:`Method` subclass in one module of
``lingo.methods``, registered under its config name, plus ``conf/method/<name>.yaml``.

The pipeline asks the unit to wrap the model, for the Trainer callbacks it needs and for what it
adds to metrics.json; tables, figures and the synthetic results read names, labels and kinds from
``METHODS``. Units import PEFT where they use it, so reading the registry costs no torch import.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from lingo.config import MethodConfig
from lingo.errors import LingoError

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class RunContext:
    """What a method needs from the run beyond its own config."""

    arch: str  # selects the target matrices' module names
    seed: int  # seeds a method's own draws (ARS)
    new_token_ids: tuple[int, ...] = ()  # embedding rows the tokenizer added: trained too
    run_dir: Path | None = None  # where a method writes its own records (rank history)
    resume_from: Path | None = None  # the checkpoint a resumed run continues from
    title: str = ""  # the run's name, for figures


class Method(ABC):
    name: ClassVar[str]  # the config name: conf/method/<name>.yaml sets method.name to it
    label: ClassVar[str]  # the paper's name, in tables and figures
    order: ClassVar[int]  # position in tables and figures (the paper's order)
    adapter: ClassVar[bool] = False  # a PEFT adapter (Fig 4 counts their wins)
    adaptive: ClassVar[bool] = False  # its parameter count is the one at budget
    samples: ClassVar[bool] = False  # its runs record sampling_events (ARS's masks)
    in_paper: ClassVar[bool] = True  # a row of the paper's tables

    def __init__(self, config: MethodConfig, context: RunContext) -> None:
        self.config = config
        self.context = context

    @abstractmethod
    def wrap(self, net: nn.Module) -> nn.Module:
        """The model to train: the backbone adapted, or frozen where it should not train."""

    def callbacks(self) -> list:
        """Trainer callbacks the method needs (AdaLoRA's allocation)."""
        return []

    def summary(self, net: nn.Module, best_checkpoint: str | None, logger: Any) -> dict[str, Any]:
        """What the method adds to metrics.json once the selected model is loaded."""
        return {}


METHODS: dict[str, type[Method]] = {}


def register(method: type[Method]) -> type[Method]:
    """Class decorator: the unit answers to ``method=<method.name>``."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is registered twice")
    METHODS[method.name] = method
    return method


def get_method(name: str) -> type[Method]:
    if name not in METHODS:
        raise LingoError(f"method.name={name!r} has no implementation; the methods are "
                         f"{', '.join(ordered())} (a new one: CONTRIBUTING.md)")
    return METHODS[name]


def ordered() -> list[str]:
    """Method names in the paper's order."""
    return sorted(METHODS, key=lambda name: METHODS[name].order)


def labels() -> dict[str, str]:
    """Name -> the paper's label, in the paper's order."""
    return {name: METHODS[name].label for name in ordered()}
