"""Shared pieces of the benchmark: the config, and a step meter that both sides
(ours and the paper-code baseline) use, so that both are timed the same way."""

import datetime as dt
import itertools
import resource
import statistics
import threading
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from transformers import TrainerCallback

from lingo.config import register_configs
from lingo.training.trainer import LingoTrainer

REPO = Path(__file__).resolve().parents[1]


def today() -> str:
    return dt.date.today().isoformat()


def compose_cfg(*overrides: str) -> DictConfig:
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def small_gue_folder(source: Path, folder: Path, per_class: int) -> Path:
    """A GUE folder of the first ``per_class`` rows of each class (0, 1) of every split of
    ``source``: for runs whose machinery, not their numbers, is under test or timed."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        header, *rows = (source / f"{split}.csv").read_text().splitlines()
        kept = [r for label in "01"
                for r in [r for r in rows if r.endswith(f",{label}")][:per_class]]
        (folder / f"{split}.csv").write_text("\n".join([header, *kept]) + "\n")
    return folder


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepMeter(TrainerCallback):
    """Wall time of each optimizer step (data loading, forward, backward, optimizer, callbacks:
    everything the loop does between two step ends), and the real / padded tokens of each step's
    batch. A step timed as None is left out of the summary."""

    def __init__(self) -> None:
        self.durations: list[float | None] = []
        self.real: list[int] = []
        self.padded: list[int] = []
        self.resumed = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.resumed = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.end_step(timed=True)

    def end_step(self, timed: bool) -> None:
        now = time.perf_counter()
        self.durations.append(now - self.resumed if timed else None)
        self.resumed = now

    def count(self, inputs: dict) -> None:
        mask = inputs["attention_mask"]
        self.real.append(int(mask.sum()))
        self.padded.append(int(mask.numel()))

    def summary(self, warmup: int) -> dict:
        """Timed steps after the first ``warmup`` ones (the first step pays for lazy
        initialisation)."""
        timed = [i for i, d in enumerate(self.durations) if d is not None]
        if len(timed) <= warmup:
            raise RuntimeError(f"only {len(timed)} timed steps ran; need more than {warmup}")
        timed = timed[warmup:]
        durations = [self.durations[i] for i in timed]
        seconds = sum(durations)
        real, padded = sum(self.real[i] for i in timed), sum(self.padded[i] for i in timed)
        return {
            "steps": len(timed),
            "seconds": round(seconds, 3),
            "step_seconds": [round(d, 3) for d in durations],
            "median_step_s": round(statistics.median(durations), 3),
            "real_tokens": real,
            "padded_tokens": padded,
            "tokens_per_s": round(real / seconds, 2),
            "pad_fraction": round(1 - real / padded, 4),
        }


class Turns:
    """Turns among threads: one runs at a time, and passes the turn on after each of its turns.
    Several trainers in one process then take their steps interleaved, so that a slow spell of a
    noisy machine falls on all of them alike. The order within a round runs through every
    permutation in turn (ABC, ACB, BAC, ...), so that each player follows each other one about
    equally often: the step right after another model's costs more, and by how much can depend
    on which model that was."""

    def __init__(self, players: int) -> None:
        self._changed = threading.Condition()
        self._players = players
        self._rounds = itertools.cycle(itertools.permutations(range(players)))
        self._left: set[int] = set()
        self._queue: list[int] = list(next(self._rounds))  # the head has the turn

    def wait(self, player: int) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._queue[0] == player)

    def pass_on(self, player: int) -> None:
        self._end_turn(player)

    def leave(self, player: int) -> None:
        self._end_turn(player, leaving=True)

    def _end_turn(self, player: int, leaving: bool = False) -> None:
        with self._changed:
            if leaving:
                self._left.add(player)
            if player in self._queue:
                self._queue.remove(player)
            if not self._queue and len(self._left) < self._players:
                self._queue = [p for p in next(self._rounds) if p not in self._left]
            self._changed.notify_all()


class TurnMeter(StepMeter):
    """A StepMeter whose trainer takes turns (``Turns``) of ``steps_per_turn`` steps, and times
    only the last. The first follows another model's step, and on a CPU it pays 6-7% for that
    (measured: whichever method followed LoRA's step was the slower of AdaLoRA and ARS, in
    either order), which a training run never pays."""

    steps_per_turn = 2

    def __init__(self, turns: Turns, player: int) -> None:
        super().__init__()
        self.turns, self.player = turns, player

    def on_step_end(self, args, state, control, **kwargs):
        last = state.global_step % self.steps_per_turn == 0
        self.end_step(timed=last)
        if last and state.global_step < state.max_steps:
            self.turns.pass_on(self.player)
            self.turns.wait(self.player)
            self.resumed = time.perf_counter()


class MeteredTrainer(LingoTrainer):
    """The HF Trainer, counting each training batch's tokens (nothing else changes)."""

    meter: StepMeter

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.meter.count(inputs)
        return super().training_step(model, inputs, num_items_in_batch)
