"""The files a run read, as size and SHA-256 each: a run directory records them, so the same
command after a split was edited in place is refused instead of reporting the old result.
Hashes are cached by path, size and modification time, so checking a finished run (or
DeepSEA's gigabytes) reads each file once, not at every launch."""

import hashlib
from pathlib import Path
from typing import Any

from lingo.results import write_atomic

CACHE = "file_hashes"  # under cache_dir: one small file per (path, size, mtime)
CHUNK = 1 << 24


def file_fingerprint(path: Path, cache_dir: Path | None) -> dict[str, Any]:
    """``{"size", "sha256"}`` of ``path``, the hash from the cache while the file's size and
    modification time are those it was hashed at."""
    path = Path(path).resolve()
    stat = path.stat()
    key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    entry = Path(cache_dir) / CACHE / key if cache_dir else None
    if entry is not None and entry.is_file():
        return {"size": stat.st_size, "sha256": entry.read_text().strip()}
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    if entry is not None:
        write_atomic(entry, digest.hexdigest())
    return {"size": stat.st_size, "sha256": digest.hexdigest()}


def files_fingerprint(paths: tuple[Path, ...], cache_dir: Path | None) -> dict[str, Any]:
    """The record of a run's data: each file's fingerprint by its absolute path."""
    return {str(Path(p).resolve()): file_fingerprint(p, cache_dir) for p in paths}


def changed_files(recorded: dict[str, Any], cache_dir: Path | None) -> list[str]:
    """The recorded files that are gone or differ now, each with what changed."""
    changed = []
    for path, before in recorded.items():
        if not Path(path).is_file():
            changed.append(f"{path} (gone)")
            continue
        now = file_fingerprint(Path(path), cache_dir)
        if now != before:
            changed.append(f"{path} (size {before['size']} -> {now['size']} bytes, "
                           "content changed)" if now["size"] != before["size"]
                           else f"{path} (same size, content changed)")
    return changed
