"""From a task config to validated train/dev/test splits."""

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from lingo.config import TaskConfig
from lingo.data.deepsea import load_deepsea
from lingo.data.gue import read_split
from lingo.data.synthetic import make_demo_splits
from lingo.data.task_data import Split, TaskData
from lingo.errors import DataError, LingoError

log = logging.getLogger(__name__)


def load_task(task: TaskConfig, seed: int) -> TaskData:
    data = replace(_load_task(task, seed), declared_length=task.sequence_length)
    if task.dev_subset is not None and task.dev_subset < len(data.dev):
        data = replace(data, dev=dev_subset(data.dev, task.dev_subset))
    if not data.multi_label:
        check_classes(data, task.selection_split)
    return data


def check_classes(data: TaskData, selection_split: str) -> None:
    """Every class of the task is trained on, and the split that selects checkpoints holds at
    least two classes: with one, AUC and MCC are undefined and no checkpoint could be chosen."""
    trained = {int(c) for c in np.unique(data.train.labels)}
    missing = sorted(set(range(data.num_labels)) - trained)
    if missing:
        shown = ", ".join(map(str, sorted(trained)))
        fix = "add training rows of each class"
        if trained == set(range(len(trained))):  # the classes are 0..k-1: fewer labels
            fix = f"set task.num_labels={len(trained)}, or {fix}"
        raise DataError(data.train.source, f"task.num_labels={data.num_labels}, but the "
                        f"training rows hold the labels {shown} only (none of "
                        f"{', '.join(map(str, missing))})", fix)
    selecting = data.dev if selection_split == "dev" else data.test
    if len(np.unique(selecting.labels)) < 2:
        raise DataError(selecting.source, f"every {selection_split} row has the label "
                        f"{int(selecting.labels[0])}: the selection metric is undefined",
                        f"give the {selection_split} split rows of at least two classes")


def dev_subset(dev: Split, n: int) -> Split:
    """A fixed subset of ``n`` dev rows (``task.dev_subset``): stratified by label where every
    class allows it, drawn with seed 0, so every run seed and model selects on the same rows."""
    if n < 2:
        raise LingoError(f"task.dev_subset={n}: use at least 2 rows, or null (all of dev)")
    # here, not above: lingo-predict and lingo-explain read CSVs through this package and
    # never split, and scikit-learn's import costs them about 1.2 s of start-up
    from sklearn.model_selection import train_test_split

    index = np.arange(len(dev))
    stratify = dev.labels if dev.labels.ndim == 1 else None
    try:
        kept, _ = train_test_split(index, train_size=n, random_state=0, stratify=stratify)
    except ValueError:  # a class too rare to stratify: a plain seeded draw
        kept = np.random.default_rng(0).choice(index, size=n, replace=False)
    return dev.subset(np.sort(kept), "dev")


def _load_task(task: TaskConfig, seed: int) -> TaskData:
    if task.source == "synthetic":
        if not task.synthetic:
            raise LingoError(
                f"task {task.name} has source=synthetic but no task.synthetic settings"
            )
        train, dev, test = make_demo_splits(seed, **task.synthetic)
        return TaskData(train, dev, test, task.num_labels, "train")
    if not task.path:
        raise LingoError(f"task {task.name} has no path; set task.path=<folder with dev.csv>")
    if task.source == "deepsea":
        return load_deepsea(task, seed)
    folder = Path(task.path)
    if not folder.is_dir():
        raise DataError(folder, "no such folder", "set LINGO_DATA_DIR to the folder holding "
                        "GUE/ (python scripts/download_data.py fetches it), or task.path=<folder "
                        "with train.csv, dev.csv, test.csv>")
    train_split = _resolve_train_split(task, folder)
    files = [folder / "dev.csv", folder / "test.csv"]
    dev = read_split(files[0], "dev", task.num_labels)
    test = read_split(files[1], "test", task.num_labels)
    if train_split == "train":
        files.append(folder / "train.csv")
        train = read_split(files[-1], "train", task.num_labels)
    else:
        train, dev = split_dev(dev, task.dev_fraction, seed)
    return TaskData(train, dev, test, task.num_labels, train_split, files=tuple(files))


def _resolve_train_split(task: TaskConfig, folder: Path) -> str:
    if task.train_split != "auto":
        return task.train_split
    if (folder / "train.csv").is_file():
        return "train"
    log.warning(
        "%s has no train.csv: reduced setup (train on %.0f%% of dev, select on the rest, "
        "report test); recorded as train_split=dev",
        folder, 100 * (1 - task.dev_fraction),
    )
    return "dev"


def split_dev(dev: Split, dev_fraction: float, seed: int) -> tuple[Split, Split]:
    """The honest reduced setup: a seeded stratified split of dev into train and held-out dev."""
    if not 0 < dev_fraction < 1:
        raise LingoError(
            f"task.dev_fraction={dev_fraction!r}: the share of dev held out for selection must "
            "lie strictly between 0 and 1 (e.g. 0.2)"
        )
    from sklearn.model_selection import train_test_split  # as in dev_subset

    index = np.arange(len(dev))
    try:
        train_idx, held_idx = train_test_split(
            index, test_size=dev_fraction, random_state=seed, stratify=dev.labels
        )
    except ValueError as err:  # a class too rare to stratify, or too few rows
        counts = dict(zip(*np.unique(dev.labels, return_counts=True), strict=True))
        shown = ", ".join(f"{int(k)}: {int(v)}" for k, v in counts.items())
        reason = " ".join(str(err).split())  # the message stays one line
        raise DataError(
            dev.source,
            f"cannot split {len(dev)} dev rows (rows per label {{{shown}}}) into a stratified "
            f"{100 * (1 - dev_fraction):.0f}/{100 * dev_fraction:.0f} train/dev split ({reason})",
            "add a train.csv, or give every label at least 2 dev rows and enough rows overall",
        ) from None
    return dev.subset(np.sort(train_idx), "train"), dev.subset(np.sort(held_idx), "dev")
