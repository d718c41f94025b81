"""Trainer callbacks: the run's history, log files and the checkpoint marker."""

import time
from pathlib import Path

import pandas as pd
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from lingo.flops import StepFlops
from lingo.results import HISTORY, write_atomic, write_jsonl
from lingo.training.checkpoints import mark_complete, read_marker, saving_checkpoint


class HistoryCallback(TrainerCallback):
    """``history.jsonl``: one line per evaluation of the selection split (dev; test only under
    ``legacy=paper_code``): step, epoch, last train loss, metrics. Rebuilt from the Trainer's log
    history, which resumes with the checkpoint."""

    def __init__(self, run_dir: Path, split: str = "dev", flops: StepFlops | None = None) -> None:
        self.path = run_dir / HISTORY
        self.split = split
        self.flops = flops

    def on_evaluate(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            write_jsonl(self.path, history_rows(state.log_history, self.split, self.flops))


def history_rows(log_history: list[dict], split: str = "dev",
                 flops: StepFlops | None = None) -> list[dict]:
    """``flops``: add the cumulative training FLOPs and FLOPs-adjusted steps at each row."""
    rows, last_loss = [], None
    for entry in log_history:
        if "loss" in entry:
            last_loss = entry["loss"]
        if "eval_loss" not in entry:
            continue
        row = {"step": entry["step"], "epoch": entry.get("epoch"), "train_loss": last_loss,
               **(flops.row(entry["step"]) if flops else {})}
        row.update(
            {f"{split}/{k.removeprefix('eval_')}": v for k, v in entry.items()
             if k.startswith("eval_")}
        )
        rows.append(row)
    return rows


class CsvLogCallback(TrainerCallback):
    """``logger=csv``: every Trainer log line in ``log.csv``."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "log.csv"

    def on_log(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            write_atomic(self.path, pd.DataFrame(state.log_history).to_csv(index=False))


class RunStateCallback(TrainerCallback):
    """Counts training time across resumes and writes each checkpoint's completeness marker.
    Must be the last callback, so the marker comes after every other file of the checkpoint."""

    def __init__(self, resume_from: Path | None) -> None:
        self.previous_seconds = float(read_marker(resume_from).get("train_seconds", 0.0))
        self.started = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.monotonic()

    @property
    def train_seconds(self) -> float:
        return self.previous_seconds + time.monotonic() - self.started

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs
    ):
        if state.is_world_process_zero:
            mark_complete(saving_checkpoint(args, state), {"train_seconds": self.train_seconds})
