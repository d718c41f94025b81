"""Shared pieces of the benchmark: the config, and a step meter that both sides
(ours and the paper-code baseline) use, so that both are timed the same way."""

import datetime as dt
import resource
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from transformers import Trainer, TrainerCallback

from lingo.config import register_configs

REPO = Path(__file__).resolve().parents[1]


def today() -> str:
    return dt.date.today().isoformat()


def compose_cfg(*overrides: str) -> DictConfig:
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepMeter(TrainerCallback):
    """Wall time between consecutive optimizer steps (data loading, forward, backward, optimizer,
    callbacks: everything the loop does), and the real / padded tokens of each step's batch."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self.real: list[int] = []
        self.padded: list[int] = []
        self.started = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())

    def count(self, inputs: dict) -> None:
        mask = inputs["attention_mask"]
        self.real.append(int(mask.sum()))
        self.padded.append(int(mask.numel()))

    def summary(self, warmup: int) -> dict:
        """Steps after the first ``warmup`` ones (the first step pays for lazy initialisation)."""
        steps = len(self.ends) - warmup
        if steps < 1:
            raise RuntimeError(f"only {len(self.ends)} steps ran; need more than {warmup}")
        starts = [self.started, *self.ends[:-1]]
        durations = [end - start for start, end in zip(starts, self.ends, strict=True)][warmup:]
        seconds = sum(durations)
        real, padded = sum(self.real[warmup:]), sum(self.padded[warmup:])
        return {
            "steps": steps,
            "seconds": round(seconds, 3),
            "step_seconds": [round(d, 3) for d in durations],
            "median_step_s": round(sorted(durations)[len(durations) // 2], 3),
            "real_tokens": real,
            "padded_tokens": padded,
            "tokens_per_s": round(real / seconds, 2),
            "pad_fraction": round(1 - real / padded, 4),
        }


class MeteredTrainer(Trainer):
    """The HF Trainer, counting each training batch's tokens (nothing else changes)."""

    meter: StepMeter

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.meter.count(inputs)
        return super().training_step(model, inputs, num_items_in_batch)
