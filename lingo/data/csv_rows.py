"""Generic reading of DNA tables (GUE and DeepSEA splits, lingo-predict's inputs): a text file,
gzipped or not; its CSV records with the line each starts on; a sequence's bases checked.

Rows are numbered as lines of the file (the header is row 1), so a message's ``row N`` is the
line an editor shows.
"""

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

from lingo.errors import DataError

ALPHABET = frozenset("ACGTN")
GZIP_MAGIC = b"\x1f\x8b"


def read_text(path: Path, name: str) -> str:
    """The text of split ``name`` at ``path``; missing, unreadable or non-UTF-8 is a DataError."""
    if not path.is_file():
        raise DataError(
            path,
            f"the {name} split is missing",
            "download the data (python scripts/download_data.py), point data_dir or "
            "LINGO_DATA_DIR at the folder holding GUE/, or set task.path",
        )
    try:
        data = gunzipped(path, path.read_bytes())
    except OSError as err:
        raise DataError(path, f"the file cannot be read ({err.strerror})",
                        "check its permissions") from None
    try:
        return data.decode("utf-8-sig")  # a byte-order mark (Excel) is not part of the header
    except UnicodeDecodeError as err:
        row = data[: err.start].count(b"\n") + 1
        raise DataError(
            path,
            f"byte {data[err.start:err.start + 1]!r} is not UTF-8 text",
            "save the file as plain UTF-8 CSV",
            row,
        ) from None


def gunzipped(path: Path, data: bytes) -> bytes:
    """``data`` read from ``path``, decompressed when it is gzip (told by its content, so a
    compressed file keeps whatever name it has); a damaged stream is a DataError."""
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise DataError(path, f"the gzip stream is damaged ({err})",
                        "re-compress the file, or give it uncompressed") from None


def csv_records(
    path: Path, text: str, fix: str = "write `sequence,label` rows, one per line",
    delimiter: str = ",",
) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with the line it starts on (a quoted field may span lines); a record
    that is not valid CSV, or has more fields than the header, is a DataError naming its line
    (the csv module would pass the extra fields on unnoticed)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    width = None  # the header's number of fields
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise DataError(path, f"the line is not valid CSV ({err})", fix, start) from None
        width = width or len(row)
        if len(row) > width:
            raise DataError(path, f"the row has {len(row)} fields, the header {width}",
                            f"remove the extra fields (a field that holds a `{delimiter}` "
                            "needs double quotes)", start)
        yield start, row
        start = reader.line_num + 1


def check_bases(
    sequence: str, path: Path, row: int, what: str = "the sequence", unit: str = "row"
) -> str:
    """Upper-cased ``sequence``, or a DataError naming the bases that are not A, C, G, T, N."""
    sequence = sequence.upper()
    bad = set(sequence) - ALPHABET
    if bad:
        shown = ", ".join(repr(c) for c in sorted(bad))
        raise DataError(
            path,
            f"{what} holds {shown}, which is not A, C, G, T or N",
            f"replace ambiguous bases by N, or remove the {unit}",
            row,
        )
    return sequence
