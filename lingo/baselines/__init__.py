"""Classical baselines, run by the same entrypoint as the language models (``method=none``):
``model=kmer_lr`` (logistic regression on k-mer frequencies) and ``model=cnn`` (a small 1D CNN on
one-hot DNA). Each trains on ``load_task``'s splits, selects on the selection split, evaluates
test once, and returns what ``pipeline.record_result`` writes to metrics.json."""

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lingo.baselines import cnn, kmer_lr
from lingo.config import BASELINE_ARCHES
from lingo.data import TaskData

TRAINERS = {"kmer_lr": kmer_lr.train, "cnn": cnn.train}
assert set(TRAINERS) == set(BASELINE_ARCHES)

__all__ = ["BASELINE_ARCHES", "run_baseline"]


def run_baseline(cfg: DictConfig, data: TaskData, run_dir: Path) -> dict[str, Any]:
    """Train ``cfg.model.arch`` on ``data``; write ``history.jsonl`` and ``model/`` in
    ``run_dir``. Returns ``test`` and ``dev`` metric dicts plus the run's flat keys
    (best_step, steps, world_size, trainable_params, total_params, train_seconds)."""
    return TRAINERS[cfg.model.arch](cfg, data, run_dir)
