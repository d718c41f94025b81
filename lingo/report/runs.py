"""Every run directory under a results folder, as one table row each (the run directory is the
interface: ``metrics.json``, or only ``config.yaml`` for a run that never finished)."""

import json
import logging
import os
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from lingo.results import CONFIG, METRICS, config_identity

log = logging.getLogger(__name__)

COLUMNS = ("model", "method", "task", "tokenizer", "seed", "status", "error", "train_split",
           "legacy", "run_dir")
SETUP_LABELS = {
    "full": "full data (train split), as in the paper",
    "reduced": "reduced setup: trained on the dev split (not comparable with the paper)",
    "paper_code": "legacy=paper_code: the paper code's procedure",
    "reduced+paper_code": "reduced setup with legacy=paper_code",
}


def setup_of(train_split: object, legacy: object) -> str:
    reduced = "reduced" if train_split == "dev" else ""
    code = "paper_code" if legacy == "paper_code" else ""
    return "+".join(part for part in (reduced, code) if part) or "full"


def _incomplete(config_path: Path) -> dict:
    """A run that wrote its config and never its metrics: running, or killed (say, by SLURM
    for memory); the tables mark its cell instead of silently dropping it."""
    return {
        **config_identity(OmegaConf.load(config_path)), "status": "incomplete",
        "error": "no metrics.json: still running, or killed before it finished",
    }


def collect_runs(results: Path) -> pd.DataFrame:
    """One row per run directory under ``results`` with its metrics, ``status`` (completed,
    failed, skipped or incomplete), ``setup`` and ``run_dir``."""
    rows = []
    for folder, dirs, files in os.walk(results):
        dirs[:] = [d for d in dirs if d not in ("wandb", "checkpoints", "model", ".hydra")]
        path = Path(folder)
        try:
            if METRICS in files:
                row = json.loads((path / METRICS).read_text())
            elif CONFIG in files:
                row = _incomplete(path / CONFIG)
            else:
                continue
        except Exception as err:  # one unreadable folder must not cost the others
            log.warning("skipping %s: unreadable (%s)", path, err)
            continue
        row["run_dir"] = str(path)
        rows.append(row)
    return runs_frame(rows)


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows of run results as the tables read them, with their ``setup``."""
    runs = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in runs:
            runs[column] = None
    runs["setup"] = [setup_of(s, g) for s, g in zip(runs["train_split"], runs["legacy"],
                                                       strict=True)]
    return runs
