"""One run's log-odds for DNA texts, for every run kind (a language model with any adapter,
merged or not; ``cnn``; ``kmer_lr``). Runs on one base model share it, as in lingo-predict."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lingo.errors import LingoError
from lingo.predict.groups import group_runs, load_group, log_grouping
from lingo.predict.inputs import Record
from lingo.predict.runs import Run, load_runs
from lingo.predict.scoring import logits
from lingo.training.precision import compute_device, resolve_precision

log = logging.getLogger(__name__)


def label_log_odds(logits: torch.Tensor, label: int, multi_label: bool) -> torch.Tensor:
    """One label's log-odds from logits, differentiably (attributions follow its gradient): a
    sigmoid's logit itself; under a softmax, the label's logit against the log-sum-exp of the
    others."""
    if multi_label or logits.shape[1] == 1:
        return logits[:, label]
    others = torch.cat([logits[:, :label], logits[:, label + 1 :]], dim=1)
    return logits[:, label] - torch.logsumexp(others, dim=1)


def log_odds(out: np.ndarray, multi_label: bool) -> np.ndarray:
    """Every label's log-odds (:func:`label_log_odds`) of a batch of logits."""
    logits = torch.from_numpy(np.asarray(out, dtype=np.float64))
    return torch.stack([label_log_odds(logits, j, multi_label) for j in range(out.shape[1])],
                       dim=1).numpy()


@dataclass
class Scorer:
    run: Run
    net: Any  # the group's model with this run's adapter active
    adapter: str | None
    device: torch.device
    dtype: torch.dtype | None  # bf16 autocast, or None (fp32)
    batch_size: int

    @property
    def length(self) -> int | None:
        """The longest input the run scores whole (its task's sequence_length; a CNN's
        one-hot length); None: no limit recorded."""
        if self.run.baseline == "cnn":
            return int(self.net.input_length)
        return self.run.sequence_length

    def log_odds(self, texts: list[str]) -> np.ndarray:
        """(len(texts), labels) float64: each label's log-odds (see :func:`log_odds`)."""
        if self.adapter is not None:
            self.net.set_adapter(self.adapter)
        out = logits(self.net, self.run, texts, self.batch_size, self.device, self.dtype,
                     _Silent())
        return log_odds(out, self.run.multi_label)

    def label(self, label: int | None) -> int:
        """``--label``, checked against the run's labels; None: the last (the positive class)."""
        labels = self.run.num_labels
        chosen = labels - 1 if label is None else label
        if not 0 <= chosen < labels:
            raise LingoError(f"--label {chosen}: {self.run.path} has labels 0..{labels - 1}")
        return chosen

    def check_records(self, records: list[Record], max_sequences: int | None,
                      cost: str = "") -> None:
        """Refuses more than ``max_sequences`` records (``cost``: what they would take) and a
        record longer than the run scores whole."""
        if max_sequences is not None and len(records) > max_sequences:
            raise LingoError(f"{len(records)} sequences and --max-sequences {max_sequences}"
                             f"{cost}: give fewer sequences, or raise --max-sequences")
        for record in records:
            if self.length and len(record.sequence) > self.length:
                raise LingoError(
                    f"record {record.id!r} has {len(record.sequence)} bp, more than the "
                    f"{self.length} bp that {self.run.path} scores whole: cut it to "
                    f"{self.length} bp or less")


class _Silent:
    """No progress bar: the callers count their own units (variants, records)."""

    def update(self, n: int = 1) -> None:
        pass


def scorers(
    run_dirs: list[Path], precision: str = "auto", merge: bool = False, batch_size: int = 128,
) -> Iterator[Scorer]:
    """A scorer per run, in the order of the runs within each group; a group's base model is
    loaded once, and released (from its scorers too) before the next group's is loaded."""
    if batch_size < 1:
        raise LingoError(f"--batch-size {batch_size}: use 1 or more")
    groups = group_runs(load_runs(run_dirs))
    log_grouping(groups)
    device = compute_device()
    precision = resolve_precision(precision, device)
    dtype = torch.bfloat16 if precision == "bf16" else None
    log.info("device %s, precision %s", device, precision)
    for index, group in enumerate(groups, start=1):
        net, adapters = load_group(group, device, merge, index)
        given = [Scorer(run, net, adapter, device, dtype, batch_size)
                 for run, adapter in zip(group, adapters, strict=True)]
        yield from given
        for scorer in given:
            scorer.net = None
        del net, given
