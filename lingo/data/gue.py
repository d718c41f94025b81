"""GUE-format CSV splits (header ``sequence,label``), validated row by row (rows numbered as
lines of the file, as :mod:`lingo.data.csv_rows` reads them)."""

from pathlib import Path

import numpy as np

from lingo.data.csv_rows import check_bases, csv_records, read_text
from lingo.data.task_data import Split
from lingo.errors import DataError


def read_split(path: Path, name: str, num_labels: int) -> Split:
    """Read one split; every problem is reported with the file, the row and the fix."""
    path = Path(path)
    text = read_text(path, name)
    sequences: list[str] = []
    labels: list[int] = []
    rows = csv_records(path, text)
    first = next(rows, None)
    if first is None:
        raise DataError(
            path, "the file is empty", "a GUE split starts with the header `sequence,label`", 1
        )
    _, header = first
    columns = [c.strip().lower() for c in header]
    if "sequence" not in columns or "label" not in columns:
        raise DataError(
            path,
            f"the header {header} lacks a `sequence` or `label` column",
            "make the first line `sequence,label`",
            row=1,
        )
    seq_col, label_col = columns.index("sequence"), columns.index("label")
    for row_number, row in rows:
        if not any(field.strip() for field in row) and len(row) <= 1:
            continue  # a blank line
        sequences.append(_sequence(path, row_number, row, seq_col))
        labels.append(_label(path, row_number, row, label_col, num_labels))
    if not sequences:
        raise DataError(path, "the split has no rows", "add rows below the header")
    return Split(name, sequences, np.asarray(labels, dtype=np.int64), str(path))


def _field(path: Path, row_number: int, row: list[str], column: int) -> str:
    if column >= len(row):
        raise DataError(
            path, f"the row has {len(row)} fields", "give each row a sequence and a label",
            row_number,
        )
    return row[column].strip()


def _sequence(path: Path, row_number: int, row: list[str], column: int) -> str:
    sequence = _field(path, row_number, row, column)
    if not sequence:
        raise DataError(path, "the sequence is empty", "remove the row or fill it in", row_number)
    return check_bases(sequence, path, row_number)


def _label(path: Path, row_number: int, row: list[str], column: int, num_labels: int) -> int:
    text = _field(path, row_number, row, column)
    try:
        label = int(text)
    except ValueError:
        raise DataError(
            path, f"the label {text!r} is not a class id",
            f"write the label as a whole number from 0 to {num_labels - 1} (`1`, not `1.0` or "
            "a class name)", row_number,
        ) from None
    if not 0 <= label < num_labels:
        raise DataError(
            path,
            f"the label {text!r} is not one of the task's classes 0..{num_labels - 1}",
            "fix the label, or set task.num_labels to the number of classes",
            row_number,
        )
    return label
