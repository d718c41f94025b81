"""What both baselines share: their settings, selection on the task's metric."""

import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lingo.data import Split, TaskData
from lingo.errors import LingoError
from lingo.metrics import greater_is_better


def settings(cfg: DictConfig, defaults: dict[str, Any]) -> dict[str, Any]:
    """``model.shape`` over the baseline's defaults; an unknown key is refused (a typo would
    otherwise be ignored silently)."""
    given = OmegaConf.to_container(cfg.model.shape, resolve=True) if cfg.model.shape else {}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise LingoError(f"model={cfg.model.name} has no setting model.shape.{unknown[0]}; "
                         f"its settings: {', '.join(defaults)}")
    return {**defaults, **given}


def selection(cfg: DictConfig, data: TaskData) -> tuple[str, Split]:
    """Where a baseline selects (dev; test only under legacy=paper_code), as the Trainer does."""
    name = cfg.task.selection_split
    return name, data.test if name == "test" else data.dev


def better(value: float, best: float | None, metric: str) -> bool:
    """Whether ``value`` of the selection metric beats ``best`` (cross_entropy: lower is
    better); an undefined value (NaN) never wins."""
    if math.isnan(value):
        return False
    return best is None or (value > best if greater_is_better(metric) else value < best)
