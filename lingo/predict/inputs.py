"""lingo-predict's input: FASTA (plain or gzipped) or CSV/TSV records, their bases checked."""

import logging
from dataclasses import dataclass
from pathlib import Path

from lingo.data.csv_rows import check_bases, csv_records, gunzipped
from lingo.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class Record:
    id: str
    sequence: str


def read_sequences(path: Path) -> list[Record]:
    """FASTA (plain or gzipped) or CSV/TSV with a ``sequence`` column, detected by content
    (and the extension for the delimiter); every problem names the file, line and record."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "the input file does not exist", "give --input an existing file")
    data = gunzipped(path, path.read_bytes())
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(path, f"byte {data[err.start:err.start + 1]!r} is not text",
                        "give a FASTA or CSV/TSV text file (optionally gzipped)", line) from None
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        raise DataError(path, "the file is empty", "give FASTA records or a CSV with a "
                        "`sequence` column")
    if first.startswith(">"):
        records = _read_fasta(path, text)
    else:
        delimiter = _csv_delimiter(path, first)
        if delimiter is None:
            raise DataError(
                path,
                "the file is neither FASTA (its first line does not start with `>`) nor CSV/TSV "
                f"(its first line {first[:60]!r} has no `sequence` column)",
                "give FASTA records, or a CSV/TSV whose header has a `sequence` column",
                1,
            )
        records = _read_table(path, text, delimiter)
    if not records:
        raise DataError(path, "the file holds no sequences", "add at least one sequence")
    seen: set[str] = set()
    duplicated = {r.id for r in records if r.id in seen or seen.add(r.id)}
    if duplicated:
        log.warning("%d ids occur more than once in %s (e.g. %r); rows keep the input order",
                    len(duplicated), path, sorted(duplicated)[0])
    return records


def _csv_delimiter(path: Path, header: str) -> str | None:
    name = path.name.lower().removesuffix(".gz")
    candidates = ["\t", ","] if name.endswith(".tsv") or "\t" in header else [",", "\t"]
    for delimiter in candidates:
        columns = [c.strip().strip('"').lower() for c in header.split(delimiter)]
        if "sequence" in columns:
            return delimiter
    return None


def _clean(path: Path, line: int, record: str, sequence: str) -> str:
    return check_bases(sequence, path, line, what=f"record {record!r}", unit="record")


def _read_fasta(path: Path, text: str) -> list[Record]:
    records: list[Record] = []
    header: tuple[str, int] | None = None  # (id, line)
    parts: list[str] = []

    def close() -> None:
        if header is None:
            return
        record_id, line = header
        if not parts:
            raise DataError(path, f"record {record_id!r} has no sequence",
                            "remove the record or give its sequence", line)
        records.append(Record(record_id, "".join(parts)))

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            close()
            words = line[1:].split()
            if not words:
                raise DataError(path, "a FASTA header has no id",
                                "name the record after `>`", number)
            header, parts = (words[0], number), []
            continue
        if header is None:  # cannot happen: detection saw `>` first
            raise DataError(path, "sequence before the first `>` header",
                            "start the file with a `>id` line", number)
        parts.append(_clean(path, number, header[0], "".join(line.split())))
    close()
    return records


def _read_table(path: Path, text: str, delimiter: str) -> list[Record]:
    rows = csv_records(path, text, "one record per line", delimiter)
    _, header = next(rows)
    columns = [c.strip().lower() for c in header]
    seq_col = columns.index("sequence")
    id_col = columns.index("id") if "id" in columns else None
    records: list[Record] = []
    for start, row in rows:
        if not any(f.strip() for f in row):
            continue
        record_id = (row[id_col].strip() if id_col is not None and id_col < len(row) else "")
        record_id = record_id or str(start)
        sequence = row[seq_col].strip() if seq_col < len(row) else ""
        if not sequence:
            raise DataError(path, f"record {record_id!r} has an empty sequence",
                            "remove the row or fill it in", start)
        records.append(Record(record_id, _clean(path, start, record_id, sequence)))
    return records
