"""Explanations checked against a planted motif: where a synthetic task put it is known
(``Split.sites``), so whether the scores point there can be counted."""

from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from lingo.data.jaspar import jaspar_motif
from lingo.data.synthetic import JASPAR_ID, make_demo_splits
from lingo.errors import LingoError
from lingo.predict.inputs import Record
from lingo.predict.runs import load_run


def strongest_window(importance: np.ndarray, window: int = 8) -> np.ndarray:
    """Per sequence, the start of the ``window``-bp stretch with the largest summed
    |importance| (positions past a sequence's end count 0)."""
    magnitude = np.nan_to_num(np.abs(importance))
    sums = np.lib.stride_tricks.sliding_window_view(magnitude, window, axis=1).sum(axis=2)
    return sums.argmax(axis=1)


def planted_hits(importance: np.ndarray, sites: np.ndarray, width: int,
                 window: int = 8) -> np.ndarray:
    """Per sequence (one with a site), whether the strongest window's centre lies inside the
    planted motif ``[site, site + width)``."""
    centre = strongest_window(importance, window) + (window - 1) / 2
    return (centre >= sites) & (centre <= sites + width - 1)


def planted_records(run_dir: Path, count: int | None = None,
                    split: str = "test") -> tuple[list[Record], np.ndarray, int]:
    """A synthetic run's ``split`` regenerated from its recorded seed and settings: its first
    ``count`` positives as records, their motif starts, and the motif's width."""
    run = load_run(Path(run_dir))
    task = run.cfg.task
    if task.source != "synthetic":
        raise LingoError(f"{run_dir}: task {task.name} is not synthetic: nothing was planted")
    settings = OmegaConf.to_container(task.synthetic)
    data = dict(zip(("train", "dev", "test"), make_demo_splits(run.cfg.seed, **settings),
                    strict=True))[split]
    rows = np.flatnonzero(data.sites >= 0)[:count]
    motif = settings["motif"]
    width = len(jaspar_motif(motif)[1]) if JASPAR_ID.fullmatch(motif) else len(motif)
    records = [Record(f"{split}{i}", data.sequences[i]) for i in rows]
    return records, data.sites[rows], width
