"""The in-memory form of a task: validated DNA strings and labels per split (integer classes,
or, for a multi-label task such as DeepSEA's histone marks, one float 0/1 column per label)."""

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    name: str  # train | dev | test
    sequences: list[str]  # upper-case, ACGTN only
    labels: np.ndarray  # int64, shape (n,); multi-label: float32, shape (n, num_labels)
    source: str  # where it came from (file path, or a description)
    sites: np.ndarray | None = None  # synthetic tasks: each planted motif's start (-1: none)

    def __len__(self) -> int:
        return len(self.sequences)

    def fingerprint(self) -> str:
        """Content hash: identifies the rows for the tokenization cache."""
        digest = hashlib.sha256()
        for seq in self.sequences:
            digest.update(seq.encode())
            digest.update(b"\n")
        digest.update(self.labels.tobytes())
        return digest.hexdigest()[:16]

    def subset(self, index: np.ndarray, name: str) -> "Split":
        return Split(
            name=name,
            sequences=[self.sequences[i] for i in index],
            labels=self.labels[index],
            source=f"{self.source} ({name} part)",
            sites=None if self.sites is None else self.sites[index],
        )


@dataclass(frozen=True)
class TaskData:
    train: Split
    dev: Split  # used to select checkpoints
    test: Split  # evaluated once, on the selected checkpoint
    num_labels: int
    train_split: str  # "train", or "dev" for the reduced setup (train on part of dev)
    label_names: list[str] | None = field(default=None)  # multi-label: one name per column
    declared_length: int | None = None  # task.sequence_length, where the task declares one
    files: tuple[Path, ...] = ()  # the files read: the run directory records their fingerprint

    @property
    def multi_label(self) -> bool:
        return self.train.labels.ndim == 2

    @property
    def sequence_length(self) -> int:
        """The run's ``sequence_length`` (bp), lingo-predict's window: the task's declared
        length, else the median training length, so that one long outlier cannot stop
        lingo-predict from windowing; training sequences over twice it are logged."""
        lengths = np.array([len(s) for s in self.train.sequences])
        length = self.declared_length or int(np.median(lengths))
        outliers = int((lengths > 2 * length).sum())
        if outliers:
            log.warning("%s: %d of %d training sequences are outliers, over twice the task's "
                        "length of %d bp (the longest %d bp); sequence_length records %d bp, "
                        "and lingo-predict scores longer sequences in windows of it",
                        self.train.source, outliers, len(lengths), length, lengths.max(), length)
        return length
