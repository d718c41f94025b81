"""Every run directory under a results folder, as one table row each (the run directory is the
interface: ``metrics.json``, or only ``config.yaml`` for a run that never finished)."""

import json
import logging
import os
import re
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from lingo.config import short_hash
from lingo.results import CONFIG, METRICS, config_identity, job_variant

log = logging.getLogger(__name__)

COLUMNS = ("model", "method", "task", "tokenizer", "seed", "status", "error", "train_split",
           "legacy", "variant", "run_dir")
SETUP_LABELS = {
    "full": "full data (train split), as in the paper",
    "reduced": "reduced setup: trained on the dev split (not comparable with the paper)",
    "paper_code": "legacy=paper_code: the paper code's procedure",
    "reduced+paper_code": "reduced setup with legacy=paper_code",
}


def setup_of(train_split: object, legacy: object, variant: object = "") -> str:
    """``full``, ``reduced``, ``paper_code`` or ``reduced+paper_code``; then, for a run with
    overrides of its own (``job_variant``), ``: <overrides>``: its own block of each table."""
    reduced = "reduced" if train_split == "dev" else ""
    code = "paper_code" if legacy == "paper_code" else ""
    setup = "+".join(part for part in (reduced, code) if part) or "full"
    return f"{setup}: {variant}" if isinstance(variant, str) and variant else setup


def split_setup(setup: str) -> tuple[str, str]:
    """(``full``, ``reduced``, ...; the variant, or "") of a setup from ``setup_of``."""
    base, _, variant = setup.partition(": ")
    return base, variant


def setup_label(setup: str) -> str:
    base, variant = split_setup(setup)
    label = SETUP_LABELS.get(base, base)
    return f"{label}; with {variant}" if variant else label


def figure_suffix(setup: str) -> str:
    """What a figure's file name carries for its setup: nothing for full data; a long one is
    cut and ends in a hash of the whole (file names hold 255 bytes)."""
    if setup == "full":
        return ""
    suffix = "_" + re.sub(r"[^A-Za-z0-9.=-]+", "_", setup)
    if len(suffix) <= 120:
        return suffix
    return f"{suffix[:110]}_{short_hash(setup)}"


def first_variant(run_dir: Path) -> str:
    """The overrides of the attempt that started a run, from Hydra's record of each attempt:
    ``.hydra/hydra.yaml`` in a run made before 2026-12 (its first attempt's), else the oldest
    ``.hydra/<time>/hydra.yaml``. For the runs whose metrics.json does not say."""
    folder = run_dir / ".hydra"
    records = [*folder.glob("hydra.yaml"), *sorted(folder.glob("*/hydra.yaml"))]
    return job_variant(OmegaConf.load(records[0]).hydra) if records else ""


def _incomplete(config_path: Path) -> dict:
    """A run that wrote its config and never its metrics: running, or killed (say, by SLURM
    for memory); the tables mark its cell instead of silently dropping it."""
    return {
        **config_identity(OmegaConf.load(config_path)),
        "variant": first_variant(config_path.parent), "status": "incomplete",
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
                if "variant" not in row:  # recorded by an older Lingo
                    row["variant"] = first_variant(path)
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


# What makes two completed runs the same seed of the same table cell
SEED_OF_CELL = ["setup", "model", "method", "task", "tokenizer", "seed"]


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows of run results as the tables read them, with their ``setup``. A completed run of
    a cell and seed that another completed run already holds (say, two copies of one sweep
    under the results folder) is marked ``duplicate``: counted once, listed with the problems."""
    runs = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in runs:
            runs[column] = None
    runs["setup"] = [setup_of(s, g, v) for s, g, v in zip(
        runs["train_split"], runs["legacy"], runs["variant"], strict=True)]
    return mark_duplicates(runs)


def mark_duplicates(runs: pd.DataFrame) -> pd.DataFrame:
    """Every completed run of a cell and seed after the first (by run directory) becomes
    ``duplicate``, naming the one that counts."""
    done = runs[runs["status"] == "completed"].sort_values("run_dir", kind="stable")
    first = done.groupby(SEED_OF_CELL, dropna=False)["run_dir"].transform("first")
    again = done.index[done.duplicated(SEED_OF_CELL)]
    runs.loc[again, "status"] = "duplicate"
    runs.loc[again, "error"] = "the same cell and seed as " + first[again].astype(str)
    return runs
