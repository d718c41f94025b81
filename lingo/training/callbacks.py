"""Trainer callbacks: AdaLoRA allocation, the run's history, log files and the checkpoint marker."""

import time
from pathlib import Path

import pandas as pd
import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from lingo.config import MethodConfig
from lingo.flops import StepFlops
from lingo.methods.adapters import adalora_schedule, check_sampling
from lingo.results import HISTORY, RANK_HISTORY, write_atomic, write_jsonl
from lingo.training.checkpoints import mark_complete, read_marker
from lingo.training.distributed import assert_same_on_all_ranks, is_main_process

ALLOCATOR_STATE = "rank_allocator.pt"


def _checkpoint_dir(args: TrainingArguments, state: TrainerState) -> Path:
    return Path(args.output_dir) / f"checkpoint-{state.global_step}"


class AllocationCallback(TrainerCallback):
    """Calls PEFT AdaLoRA's ``update_and_allocate`` once per optimizer step, after the step and
    before the gradients are zeroed, with the schedule fitted to the Trainer's real step count
    (``method.allocate*`` and ``method.total_step`` reproduce the paper code's schedule instead).

    Every allocation event is a line of ``rank_history.jsonl``. The rank pattern is kept here
    between steps, not in the PEFT config: PEFT trims a saved
    adapter to its pattern, and a checkpoint must keep every triplet (a pruned one can come back,
    and a resumed run must continue exactly). The pattern and the importance EMAs are saved with
    each checkpoint.
    """

    def __init__(self, method: MethodConfig, run_dir: Path, resume_from: Path | None) -> None:
        self.method = method
        self.history_path = run_dir / RANK_HISTORY
        self.resume_from = resume_from
        self.rank_pattern: dict | None = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        tuner = model.base_model
        config = tuner.peft_config[tuner.trainable_adapter_name]
        warmup = args.get_warmup_steps(state.max_steps)
        schedule = adalora_schedule(self.method, state.max_steps, warmup)
        for key, value in schedule.items():
            setattr(config, key, value)
        if is_main_process():
            check_sampling(self.method, schedule, state.max_steps)
        if self.resume_from is not None:
            saved = load_allocator_state(self.resume_from)
            tuner.rankallocator.load_state_dict(saved["allocator"])
            self.rank_pattern = saved["rank_pattern"]
        self._write_history(tuner.rankallocator)

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if self.method.allocate_before_step:
            self._allocate(model, state.global_step)

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        if not self.method.allocate_before_step:
            self._allocate(model, state.global_step)

    def _allocate(self, model, step: int) -> None:
        if not self.method.allocate or step % self.method.allocate_every:
            return
        tuner = model.base_model
        config = tuner.peft_config[tuner.trainable_adapter_name]
        allocator = tuner.rankallocator
        events = len(allocator.events)
        config.rank_pattern = self.rank_pattern
        tuner.update_and_allocate(step)
        self.rank_pattern, config.rank_pattern = config.rank_pattern, None
        if len(allocator.events) != events:
            kept = [keep for mask in (self.rank_pattern or {}).values() for keep in mask]
            assert_same_on_all_ranks(torch.tensor(kept, dtype=torch.bool), "the rank pattern")
            self._write_history(allocator)

    def _write_history(self, allocator) -> None:
        if is_main_process():
            write_jsonl(self.history_path, allocator.events)

    def on_save(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero:
            return
        torch.save(
            {"allocator": model.base_model.rankallocator.state_dict(),
             "rank_pattern": self.rank_pattern},
            _checkpoint_dir(args, state) / ALLOCATOR_STATE,
        )


def load_allocator_state(checkpoint: Path) -> dict:
    """The allocator state saved with a checkpoint; empty when none was (allocation off)."""
    path = checkpoint / ALLOCATOR_STATE
    return torch.load(path, weights_only=False) if path.is_file() else {}


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
            mark_complete(_checkpoint_dir(args, state), {"train_seconds": self.train_seconds})
