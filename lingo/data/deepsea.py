"""DeepSEA (Zhou & Troyanskaya 2015), the Histone (Human) task: the 104 histone-mark labels of
the 919 DeepSEA labels, one 0/1 column each (multi-label), 1000 bp per sequence.

Two layouts are read from ``task.path``:

- the DeepSEA release (deepsea_train_bundle.v0.9): ``train.mat`` (MATLAB v7.3, i.e. HDF5,
  read with h5py in chunks of rows, never whole: ``trainxdata`` has h5py shape L x 4 x N and
  ``traindata`` 919 x N, the MATLAB axes reversed), ``valid.mat`` and ``test.mat`` (MATLAB v5,
  scipy.io.loadmat: ``validxdata`` N x 4 x L, ``validdata`` N x 919; ``testxdata``,
  ``testdata``). The histone labels are chosen by name from ``predictor_names.txt``
  (the folder's copy, else the one shipped beside this module). One-hot rows are in the order
  ``task.onehot_bases`` (documented as AGCT); a column of zeros is N. The order is checked on
  the data's dinucleotides (see :func:`check_composition`): a swapped C/G is otherwise silent.
- CSV files with the header ``sequence,label``, ``label`` a list literal of the 104 labels:
  ``train.csv``/``dev.csv``/``test.csv``, or one sample file (``task.sample_file``, the 100
  real samples beside the project), split 60/20/20 with a fixed seed: the reduced setup,
  recorded as ``train_split=dev`` (trained on part of held-out data, not the release's train).

Every problem is a DataError naming the file, the row (CSV line, or sample number in a .mat)
and the fix.
"""

import ast
import json
import logging
import re
from collections.abc import Iterator
from itertools import permutations
from pathlib import Path

import numpy as np

from lingo.data.csv_rows import check_bases, csv_records, read_text
from lingo.data.task_data import Split, TaskData
from lingo.errors import DataError

log = logging.getLogger(__name__)

NAMES_FILE = "predictor_names.txt"
# A DeepSEA label is "<cell>_<mark or factor>_<treatment>"; histone marks: H2AK5ac, H2AZ,
# H2BK120ac, H3K4me3, H4K20me1, ... (not the factors HDAC2, HNF4A, HSF1, ...)
HISTONE_MARK = re.compile(r"H(2A|2B|3|4)(Z|K\d+)")
RELEASE = {  # split: (file, sequences, labels)
    "train": ("train.mat", "trainxdata", "traindata"),
    "dev": ("valid.mat", "validxdata", "validdata"),
    "test": ("test.mat", "testxdata", "testdata"),
}
CSV_SPLITS = {"train": "train.csv", "dev": "dev.csv", "test": "test.csv"}
CHUNK_ROWS = 10_000  # rows of train.mat decoded at a time
SAMPLE_SPLIT_SEED = 0  # the sample file's 60/20/20 split is the same for every run seed
MIN_CHECKED_PAIRS = 20_000  # dinucleotides needed before the base order is judged


# --- label names ---------------------------------------------------------------------------------


def read_label_names(folder: Path) -> tuple[list[str], Path]:
    """The 919 DeepSEA label names, one per line (some hold non-breaking spaces: lines, not
    whitespace, separate them), from the folder's ``predictor_names.txt``."""
    path = Path(folder) / NAMES_FILE
    if not path.is_file():
        raise DataError(
            path, "DeepSEA's label names are missing (the histone labels are chosen by name)",
            "run python scripts/download_data.py --what deepsea, or copy predictor_names.txt "
            "(kipoi/models, DeepSEA/predictor_names.txt: 919 names) into that folder")
    text = path.read_text(encoding="utf-8")
    names = [line.rstrip("\r") for line in text.split("\n")]
    while names and not names[-1].strip():
        names.pop()
    return names, path


def histone_columns(names: list[str], path: Path, num_labels: int) -> list[int]:
    """Indices of the histone-mark labels, chosen by the mark in each name (815..918)."""
    columns = [i for i, name in enumerate(names) if _is_histone(name)]
    if len(columns) != num_labels:
        raise DataError(
            path,
            f"{len(columns)} of its {len(names)} label names are histone marks, the task has "
            f"task.num_labels={num_labels}",
            "use DeepSEA's predictor_names.txt (919 names, 104 histone marks), or set "
            "task.num_labels",
        )
    return columns


def _is_histone(name: str) -> bool:
    parts = name.split("_")
    return len(parts) >= 3 and HISTONE_MARK.match(parts[-2].strip()) is not None


# --- the task ------------------------------------------------------------------------------------


def csv_label_names(folder: Path, num_labels: int) -> list[str]:
    """The CSV layouts hold the histone labels only: their names, when predictor_names.txt is
    there, else their DeepSEA indices (815..918)."""
    if (folder / NAMES_FILE).is_file():
        names, path = read_label_names(folder)
        return [names[i] for i in histone_columns(names, path, num_labels)]
    return [f"deepsea_label_{815 + i}" for i in range(num_labels)]


def load_deepsea(task, seed: int) -> TaskData:
    """train/dev/test of a DeepSEA task from ``task.path`` (release .mat files, CSV splits, or
    the sample file; ``task.train_split``: auto picks the first present, train needs a full
    layout, dev the sample file)."""
    del seed  # the sample split is fixed (SAMPLE_SPLIT_SEED): one test set for every run seed
    folder = Path(task.path)
    length = task.sequence_length
    full = task.train_split in ("auto", "train")
    if full and all((folder / f).is_file() for f, _, _ in RELEASE.values()):
        names, names_path = read_label_names(folder)  # the .mat files hold all 919 labels
        columns = histone_columns(names, names_path, task.num_labels)
        label_names = [names[i] for i in columns]
        splits = {
            split: read_mat_split(folder / file, split, x_key, y_key, columns, len(names),
                                  task.onehot_bases, length)
            for split, (file, x_key, y_key) in RELEASE.items()
        }
        return TaskData(splits["train"], splits["dev"], splits["test"], task.num_labels,
                        "train", label_names,
                        files=(names_path, *(folder / f for f, _, _ in RELEASE.values())))
    label_names = csv_label_names(folder, task.num_labels)
    names_read = (folder / NAMES_FILE,) if (folder / NAMES_FILE).is_file() else ()
    if full and all((folder / f).is_file() for f in CSV_SPLITS.values()):
        splits = {split: read_csv_split(folder / file, split, task.num_labels, length)
                  for split, file in CSV_SPLITS.items()}
        return TaskData(splits["train"], splits["dev"], splits["test"], task.num_labels,
                        "train", label_names,
                        files=(*names_read, *(folder / f for f in CSV_SPLITS.values())))
    sample = folder / task.sample_file if task.sample_file else None
    if task.train_split == "train" or sample is None or not sample.is_file():
        raise DataError(
            folder,
            "holds neither the DeepSEA release (train.mat, valid.mat, test.mat) nor CSV splits "
            "(train.csv, dev.csv, test.csv)"
            + ("" if task.train_split == "train" or not task.sample_file
               else f" nor the sample file {task.sample_file}"),
            "run python scripts/download_data.py --what deepsea, or point task.path (or "
            "LINGO_DATA_DIR) at the folder holding DeepSEA's files",
        )
    train, dev, test = sample_splits(read_csv_split(sample, "sample", task.num_labels, length),
                                     task.dev_fraction)
    log.warning(
        "%s: reduced setup, %d samples split %d/%d/%d (train/dev/test, fixed seed); recorded "
        "as train_split=dev. The full task needs the DeepSEA release (download_data.py "
        "--what deepsea)", sample, len(train) + len(dev) + len(test), len(train), len(dev),
        len(test),
    )
    return TaskData(train, dev, test, task.num_labels, "dev", label_names,
                    files=(*names_read, sample))


def sample_splits(split: Split, fraction: float) -> tuple[Split, Split, Split]:
    """A seeded shuffle cut into train / dev / test, ``fraction`` each for dev and test
    (0.2: 60/20/20). Not stratified: a row holds 104 labels."""
    if not 0 < fraction < 0.5:
        raise DataError(split.source, f"task.dev_fraction={fraction} cannot cut dev and test "
                        "from the sample", "use a value in (0, 0.5), e.g. 0.2")
    n = len(split)
    held = max(1, round(n * fraction))
    if n < 2 * held + 1:
        raise DataError(split.source, f"{n} rows cannot make a train, dev and test split",
                        "give the sample file at least 3 rows")
    order = np.random.default_rng(SAMPLE_SPLIT_SEED).permutation(n)
    test, dev, train = order[:held], order[held:2 * held], order[2 * held:]
    return (split.subset(np.sort(train), "train"), split.subset(np.sort(dev), "dev"),
            split.subset(np.sort(test), "test"))


# --- CSV layout ----------------------------------------------------------------------------------


def read_csv_split(path: Path, name: str, num_labels: int, length: int | None) -> Split:
    """``sequence,label`` rows, ``label`` a list literal of ``num_labels`` 0/1 values; every
    sequence ``length`` bp (None: the first row's length)."""
    path = Path(path)
    rows = csv_records(path, read_text(path, name))
    first = next(rows, None)
    columns = [c.strip().lower() for c in first[1]] if first else []
    if "sequence" not in columns or "label" not in columns:
        raise DataError(path, "the file lacks the header `sequence,label`",
                        "make the first line `sequence,label`", 1)
    seq_col, label_col = columns.index("sequence"), columns.index("label")
    sequences: list[str] = []
    labels: list[list[float]] = []
    for row_number, row in rows:
        if not any(field.strip() for field in row):
            continue
        if max(seq_col, label_col) >= len(row):
            raise DataError(path, f"the row has {len(row)} fields",
                            "give each row a sequence and a quoted label list", row_number)
        sequence = check_bases(row[seq_col].strip(), path, row_number)
        length = length or len(sequence)
        _check_length(path, row_number, len(sequence), length)
        sequences.append(sequence)
        labels.append(_label_vector(path, row_number, row[label_col], num_labels))
    if not sequences:
        raise DataError(path, "the split has no rows", "add rows below the header")
    return Split(name, sequences, np.asarray(labels, dtype=np.float32), str(path))


def _check_length(path: Path, row: int, found: int, length: int) -> None:
    if found != length:
        raise DataError(
            path, f"the sequence is {found} bp; every sequence of a DeepSEA split is {length} bp",
            "cut or pad the sequence to that length, remove the row, or set "
            "task.sequence_length", row,
        )


def _label_vector(path: Path, row: int, text: str, num_labels: int) -> list[float]:
    text = text.strip()
    try:
        values = json.loads(text)
    except ValueError:
        try:
            values = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            values = None
    if not isinstance(values, list | tuple):
        raise DataError(path, f"the label {text[:40]!r} is not a list of 0/1 values",
                        f"write the label as a quoted list, e.g. \"[0, 1, ...]\" with "
                        f"{num_labels} values", row)
    if len(values) != num_labels:
        raise DataError(path, f"the label lists {len(values)} values, the task has "
                        f"{num_labels} labels",
                        f"give every row {num_labels} 0/1 values, or set task.num_labels", row)
    for position, value in enumerate(values, start=1):
        if isinstance(value, bool) or value not in (0, 1):
            raise DataError(path, f"label value {position} is {value!r}, not 0 or 1",
                            "write each label as 0 or 1", row)
    return [float(v) for v in values]


# --- release .mat files --------------------------------------------------------------------------


def iter_mat_chunks(path: Path, x_key: str, y_key: str,
                    chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(first row, one-hot n x 4 x L, labels n x all labels)`` chunks of a DeepSEA .mat:
    an HDF5 (v7.3) file is read ``chunk_rows`` samples at a time, never whole; a v5 file, which
    scipy can only read whole, is loaded once and then cut the same way."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "the file is missing", "download the DeepSEA release "
                        "(python scripts/download_data.py --what deepsea)")
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as handle:
            x, y = _datasets(path, handle, x_key, y_key)
            if x.ndim != 3 or y.ndim != 2 or x.shape[1] != 4 or x.shape[2] != y.shape[1]:
                raise _shape_error(path, x_key, y_key, x.shape, y.shape, "L x 4 x N", "919 x N")
            for start in range(0, x.shape[2], chunk_rows):
                stop = min(start + chunk_rows, x.shape[2])
                yield (start, np.transpose(x[:, :, start:stop], (2, 1, 0)),
                       np.asarray(y[:, start:stop]).T)
        return
    from scipy.io import loadmat

    try:
        data = loadmat(str(path), variable_names=[x_key, y_key])
    except (ValueError, TypeError, OSError, NotImplementedError) as err:
        raise DataError(path, f"is neither HDF5 (MATLAB v7.3) nor a MATLAB v5 file ({err})",
                        "download the DeepSEA release again") from None
    x, y = _datasets(path, data, x_key, y_key)
    if x.ndim != 3 or y.ndim != 2 or x.shape[1] != 4 or x.shape[0] != y.shape[0]:
        raise _shape_error(path, x_key, y_key, x.shape, y.shape, "N x 4 x L", "N x 919")
    for start in range(0, x.shape[0], chunk_rows):
        yield start, x[start:start + chunk_rows], y[start:start + chunk_rows]


def _datasets(path: Path, handle, x_key: str, y_key: str):
    missing = [k for k in (x_key, y_key) if k not in handle]
    if missing:
        raise DataError(path, f"holds no variable {missing[0]!r}",
                        f"use the DeepSEA release's file (variables {x_key}, {y_key})")
    return handle[x_key], handle[y_key]


def _shape_error(path, x_key, y_key, x_shape, y_shape, x_doc, y_doc) -> DataError:
    return DataError(path, f"{x_key} has shape {tuple(x_shape)} and {y_key} {tuple(y_shape)}, "
                     f"not {x_doc} and {y_doc}", "use the DeepSEA release's file")


def read_mat_split(path: Path, name: str, x_key: str, y_key: str, columns: list[int],
                   n_names: int, bases: str, length: int | None,
                   chunk_rows: int = CHUNK_ROWS) -> Split:
    """One split of the release: sequences decoded chunk by chunk, the ``columns`` labels as
    float32; the base order is checked on the first chunk."""
    sequences: list[str] = []
    labels: list[np.ndarray] = []
    for start, onehot, y in iter_mat_chunks(path, x_key, y_key, chunk_rows):
        if y.shape[1] != n_names:
            raise DataError(path, f"{y_key} holds {y.shape[1]} labels per sample, "
                            f"{NAMES_FILE} names {n_names}",
                            f"use the {NAMES_FILE} of the same DeepSEA release")
        if length is not None and onehot.shape[2] != length:
            raise DataError(path, f"{x_key} holds {onehot.shape[2]} bp sequences; the task's "
                            f"are {length} bp", "set task.sequence_length to the file's length")
        codes = onehot_codes(onehot, path, start)
        if start == 0:
            check_composition(codes, bases, path)
        sequences.extend(decode(codes, bases))
        chosen = np.asarray(y[:, columns])
        _check_binary(chosen, path, start, columns)
        labels.append(chosen.astype(np.float32))
    if not sequences:
        raise DataError(path, f"{x_key} holds no samples", "use the DeepSEA release's file")
    return Split(name, sequences, np.concatenate(labels), str(path))


def _check_binary(labels: np.ndarray, path: Path, start: int, columns: list[int]) -> None:
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(path, f"sample {start + row + 1} has label {columns[col] + 1} = "
                        f"{labels[row, col]!r}, not 0 or 1",
                        "use the DeepSEA release's file (labels are 0/1)", start + row + 1)


def onehot_codes(onehot: np.ndarray, path: Path, start: int = 0) -> np.ndarray:
    """n x L codes: the index of the one-hot row (0..3), 4 where the column is all zeros (N);
    a column with more than one 1, or a value other than 0/1, is a DataError."""
    onehot = np.asarray(onehot)
    bad = ~np.isin(onehot, (0, 1))
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise DataError(path, f"sample {start + row + 1} holds a one-hot value other than 0 or 1",
                        "use the DeepSEA release's file", start + row + 1)
    ones = onehot.sum(axis=1, dtype=np.int16)
    if (ones > 1).any():
        row, pos = (int(i) for i in np.argwhere(ones > 1)[0])
        raise DataError(path, f"sample {start + row + 1}, position {pos + 1} has more than one "
                        "base set", "use the DeepSEA release's file", start + row + 1)
    return np.where(ones == 0, 4, onehot.argmax(axis=1)).astype(np.uint8)


def decode(codes: np.ndarray, bases: str) -> list[str]:
    table = np.frombuffer((bases + "N").encode("ascii"), dtype=np.uint8)
    letters = table[codes]
    return [row.tobytes().decode("ascii") for row in letters]


def check_composition(codes: np.ndarray, bases: str, path: Path) -> None:
    """The one-hot order, judged on the data. Human DNA's most depleted dinucleotide is CpG
    (observed/expected about 0.2-0.5, its reverse GpC about 1), the next TpA (about 0.7, ApT
    about 0.9). Read with ``bases``, the most depleted pair ``xy`` shows which rows hold C and G,
    and the more depleted order of the two other bases which hold T and A. A different order
    than ``bases`` is a DataError that names the order the data suggests; too few bases or no
    clear depletion only logs a warning."""
    ratio = dinucleotide_oe(codes)
    if ratio is None:
        log.info("%s: too few bases to check the one-hot order %s", path, bases)
        return
    pairs = sorted(ratio, key=ratio.get)
    (c, g), runner_up = pairs[0], pairs[1]
    if ratio[(c, g)] > 0.6 or ratio[runner_up] - ratio[(c, g)] < 0.1:
        log.warning("%s: no clear CpG depletion (lowest observed/expected %.2f); the one-hot "
                    "order %s is not checked", path, ratio[(c, g)], bases)
        return
    u, v = sorted(set(range(4)) - {c, g})
    t, a = (u, v) if ratio[(u, v)] < ratio[(v, u)] else (v, u)
    settled = abs(ratio[(u, v)] - ratio[(v, u)]) >= 0.08
    true_of = {c: "C", g: "G", t: "T", a: "A"}
    suggested = "".join(true_of[i] for i in range(4))
    if (bases[c], bases[g]) != ("C", "G"):
        raise DataError(
            path,
            f"read with task.onehot_bases={bases}, its least frequent dinucleotide relative to "
            f"its bases is {bases[c]}{bases[g]} (observed/expected {ratio[(c, g)]:.2f}), where "
            f"human DNA has CpG: the one-hot rows are in another order",
            f"set task.onehot_bases={suggested}"
            + ("" if settled else " (A and T could not be told apart: check them)"),
        )
    if settled and (bases[t], bases[a]) != ("T", "A"):
        raise DataError(
            path,
            f"read with task.onehot_bases={bases}, TpA reads as {bases[t]}{bases[a]} "
            f"(observed/expected {ratio[(t, a)]:.2f}, its reverse {ratio[(a, t)]:.2f}): "
            "the A and T rows look swapped",
            f"set task.onehot_bases={suggested}",
        )


def dinucleotide_oe(codes: np.ndarray) -> dict[tuple[int, int], float] | None:
    """Observed/expected frequency of each ordered pair of different rows (0..3), over pairs of
    adjacent positions without N; None below MIN_CHECKED_PAIRS pairs."""
    codes = np.asarray(codes, dtype=np.int64)
    left, right = codes[:, :-1].ravel(), codes[:, 1:].ravel()
    keep = (left < 4) & (right < 4)
    if keep.sum() < MIN_CHECKED_PAIRS:
        return None
    pairs = np.bincount(4 * left[keep] + right[keep], minlength=16).reshape(4, 4) / keep.sum()
    single = np.bincount(codes[codes < 4].ravel(), minlength=4) / (codes < 4).sum()
    if (single == 0).any():
        return None
    return {(x, y): float(pairs[x, y] / (single[x] * single[y]))
            for x, y in permutations(range(4), 2)}
