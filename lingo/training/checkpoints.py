"""Checkpoints that survive SIGKILL: a checkpoint counts only once its marker is written (last,
after the Trainer's own files and the callbacks' state), so a half-written one is ignored."""

import json
import re
import shutil
from pathlib import Path

from transformers import TrainerState, TrainingArguments

from lingo.results import write_json

MARKER = "lingo_state.json"
_STEP = re.compile(r"^checkpoint-(\d+)$")


def _checkpoints(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and _STEP.match(p.name)]
    return sorted(found, key=lambda p: int(_STEP.match(p.name).group(1)))


def last_complete_checkpoint(folder: Path, remove_incomplete: bool = True) -> Path | None:
    """The newest checkpoint with a marker; newer, incomplete ones (a kill mid-save) are removed
    so the Trainer never sees them, by the process that holds the run's lock alone (under
    torchrun, rank 0: the other ranks would remove a checkpoint that another launch is
    writing, before rank 0 found the run busy)."""
    for checkpoint in reversed(_checkpoints(folder)):
        if (checkpoint / MARKER).is_file():
            return checkpoint
        if remove_incomplete:
            shutil.rmtree(checkpoint, ignore_errors=True)
    return None


def mark_complete(checkpoint: Path, state: dict) -> None:
    write_json(checkpoint / MARKER, state)


def read_marker(checkpoint: Path | None) -> dict:
    if checkpoint is None:
        return {}
    return json.loads((checkpoint / MARKER).read_text())


def saving_checkpoint(args: TrainingArguments, state: TrainerState) -> Path:
    """The checkpoint the Trainer is saving, for a callback's ``on_save``."""
    return Path(args.output_dir) / f"checkpoint-{state.global_step}"
