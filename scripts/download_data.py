#!/usr/bin/env python3
"""Download the GUE benchmark (DNABERT-2, Zhou et al. 2023) and unpack it for Lingo; with
``--what deepsea``, the DeepSEA training bundle (Zhou & Troyanskaya 2015) for the Histone
(Human) task.

The result is ``<data_dir>/GUE/<family>/<task>/{train,dev,test}.csv`` (CSV header
``sequence,label``), e.g. ``data/GUE/prom/prom_300_tata/train.csv`` and
``data/GUE/EMP/H3/train.csv``.  ``data_dir`` is ``--data-dir``, else the environment
variable ``LINGO_DATA_DIR``, else ``data/``.

Usage::

    python scripts/download_data.py                        # try the built-in mirrors
    python scripts/download_data.py --url https://host/GUE.zip   # use another mirror
    python scripts/download_data.py --archive ~/Downloads/GUE.zip  # unpack a local zip
    python scripts/download_data.py --force                # replace an existing GUE/

Sources are tried in the order of the ``SOURCES`` constant below (edit it, or pass
``--url`` one or more times, to use other mirrors):

1. ``GUE.zip`` in a public dataset copy of GUE on the Hugging Face hub, fetched with
   huggingface_hub's own client (``HF_ENDPOINT`` selects a hub mirror, ``HF_TOKEN`` a login;
   with ``HF_HUB_OFFLINE=1`` the hub is skipped);
2. the authors' Google Drive file (id ``1GRtbzTe3UXYF1oW27ASNhYX3SZ16D7N2``, linked from
   the DNABERT-2 README).  Drive serves large files behind a "can't scan for viruses"
   confirmation page; the script follows that page's form / ``confirm=`` token, but
   Google changes this flow from time to time.  If it fails, open
   https://drive.google.com/file/d/1GRtbzTe3UXYF1oW27ASNhYX3SZ16D7N2 in a browser,
   download ``GUE.zip`` and run the script with ``--archive PATH``.

``--what deepsea`` fetches ``deepsea_train_bundle.v0.9.tar.gz`` from the DeepSEA site
(``DEEPSEA_SOURCES``) and unpacks ``train.mat``, ``valid.mat`` and ``test.mat`` into
``<data_dir>/DeepSEA/`` (about 3.5 GB packed), beside a copy of ``predictor_names.txt``
(the 919 label names, shipped in ``lingo/data/``); the .mat files are checked to be HDF5
(train.mat, MATLAB v7.3) and MATLAB v5 files before anything is moved into place.

Neither URL could be checked when this script was written; a source that answers with
an HTTP error or with something that is not a zip file is skipped and the next is tried.

Safety: a download is streamed to a hidden temporary file next to its destination and
renamed only once complete; the archive is unpacked into a temporary folder that is
renamed into place only after the expected files have been checked.  An interrupted run
therefore never leaves a half-written ``GUE/`` folder.  An existing ``GUE/`` folder is
left alone unless ``--force`` is given.

Offline or unreachable hosts make the script exit with status 2 and a single message
explaining how to fetch the data on another machine (``--archive PATH``, or copy the
unpacked folder and set ``LINGO_DATA_DIR``).  Besides huggingface_hub for the hub's copy
(imported only when that source is tried), only the standard library is used.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.cookiejar
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import BinaryIO

GUE_DRIVE_ID = "1GRtbzTe3UXYF1oW27ASNhYX3SZ16D7N2"
GUE_DRIVE_PAGE = f"https://drive.google.com/file/d/{GUE_DRIVE_ID}"


@dataclass(frozen=True)
class HubFile:
    """A file of a dataset repository on the Hugging Face hub, fetched with huggingface_hub."""

    repo_id: str
    filename: str
    endpoint: str | None = None  # None: huggingface_hub's (HF_ENDPOINT, else huggingface.co)

    @property
    def url(self) -> str:
        from huggingface_hub import hf_hub_url

        return hf_hub_url(self.repo_id, self.filename, repo_type="dataset", endpoint=self.endpoint)


Source = str | HubFile  # a URL (fetched with urllib) or a file on the hub

# (name, source) pairs tried in order.  Edit freely to add or reorder mirrors.
SOURCES: list[tuple[str, Source]] = [
    ("huggingface", HubFile("leannmlindsey/GUE", "GUE.zip")),
    (
        "google-drive",
        f"https://drive.usercontent.google.com/download?id={GUE_DRIVE_ID}&export=download",
    ),
]

TIMEOUT_S = 30.0  # per connection attempt / per socket read; never hang forever
CHUNK = 1 << 20
USER_AGENT = "lingo-download-data/1.0 (+python-urllib)"
EXPECTED_HEADER = "sequence,label"
JUNK_NAMES = {".DS_Store", "Thumbs.db"}
_CONFIRM_RE = re.compile(r'(?:confirm=|name="confirm"\s+value=")([0-9A-Za-z_-]+)')


class DownloadError(RuntimeError):
    """A user-facing failure; ``main`` prints its message and exits with status 2."""


class SourceError(RuntimeError):
    """One source answered but did not provide a usable archive; try the next one."""


@dataclass(frozen=True)
class DatasetSpec:
    """What to download for one ``--what`` choice and how to check the result."""

    dirname: str  # folder created under data_dir
    archive_name: str  # file name of the downloaded archive inside data_dir
    sources: list[tuple[str, Source]]
    required: tuple[str, ...]  # CSVs (relative to the dataset root) that must exist
    manual_hint: str  # where a user can download the archive by hand
    kind: str = "zip"  # zip | tar (a .tar.gz)
    extra: tuple[tuple[str, str], ...] = ()  # (URL, name) fetched into the result if absent


DEEPSEA_PAGE = "http://deepsea.princeton.edu/help/"
DEEPSEA_SOURCES: list[tuple[str, Source]] = [
    ("deepsea", "http://deepsea.princeton.edu/media/code/deepsea_train_bundle.v0.9.tar.gz"),
]
# DeepSEA's 919 label names, fetched beside the .mat files (the bundle does not hold them)
PREDICTOR_NAMES_URL = (
    "https://raw.githubusercontent.com/kipoi/models/master/DeepSEA/predictor_names.txt")


# One entry per downloadable dataset; ``--what`` choices come from these keys.
DATASETS: dict[str, DatasetSpec] = {
    "gue": DatasetSpec(
        dirname="GUE",
        archive_name="GUE.zip",
        sources=SOURCES,
        required=(
            "prom/prom_300_tata/train.csv",
            "prom/prom_300_tata/dev.csv",
            "prom/prom_300_tata/test.csv",
        ),
        manual_hint=f"GUE.zip from {GUE_DRIVE_PAGE}",
    ),
    "deepsea": DatasetSpec(
        dirname="DeepSEA",
        archive_name="deepsea_train_bundle.v0.9.tar.gz",
        sources=DEEPSEA_SOURCES,
        required=("train.mat", "valid.mat", "test.mat"),
        manual_hint=f"deepsea_train_bundle.v0.9.tar.gz from {DEEPSEA_PAGE}",
        kind="tar",
        extra=((PREDICTOR_NAMES_URL, "predictor_names.txt"),),
    ),
}


# --------------------------------------------------------------------------- unpacking


def _member_parts(name: str) -> tuple[str, ...] | None:
    """Return the path parts of a zip member to extract, or None to skip it."""
    path = PurePosixPath(name.replace("\\", "/"))
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if not parts:
        return None
    if path.is_absolute() or ".." in parts or ":" in parts[0]:
        raise DownloadError(f"archive member {name!r} has an unsafe path; refusing to unpack")
    if parts[0] == "__MACOSX" or parts[-1] in JUNK_NAMES or parts[-1].startswith("._"):
        return None
    return parts


def _extract(zip_path: Path, dest: Path) -> None:
    """Extract ``zip_path`` into ``dest``, skipping macOS/Windows junk entries."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                parts = _member_parts(info.filename)
                if parts is None:
                    continue
                target = dest.joinpath(*parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise DownloadError(f"{zip_path} is not a valid zip archive ({exc})") from exc


def _extract_tar(tar_path: Path, dest: Path) -> None:
    """Extract a (gzipped) tar into ``dest``, member by member, with the same path checks."""
    try:
        with tarfile.open(tar_path, "r:*") as tf:
            for member in tf:
                parts = _member_parts(member.name)
                if parts is None or not (member.isfile() or member.isdir()):
                    continue  # links, devices: never needed, never followed
                target = dest.joinpath(*parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(member)
                assert src is not None
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DownloadError(f"{tar_path} is not a valid tar archive ({exc})") from exc


HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _check_mat(path: Path, rel: str) -> None:
    """A DeepSEA .mat file: MATLAB v5 (header text) or v7.3 (HDF5, signature at 0 or after
    MATLAB's 512-byte user block)."""
    with open(path, "rb") as fh:
        head = fh.read(1024 + 8)
    hdf5 = any(head[o:o + 8] == HDF5_MAGIC for o in (0, 512, 1024))
    if not (hdf5 or head.startswith(b"MATLAB 5.0 MAT-file")):
        raise DownloadError(
            f"{rel} in the archive is neither a MATLAB v5 nor an HDF5 (v7.3) file; this does "
            "not look like the DeepSEA bundle. No data was written."
        )


def _find_root(tmp: Path, required: str, max_depth: int = 3) -> Path | None:
    """Find the folder under ``tmp`` (at most ``max_depth`` levels down) holding ``required``.

    Handles archives with or without a top-level ``GUE/`` folder.
    """
    level = [tmp]
    for _ in range(max_depth + 1):
        for cand in sorted(level):
            if (cand / required).is_file():
                return cand
        level = [c for d in level for c in d.iterdir() if c.is_dir()]
    return None


def _check_header(csv_path: Path, rel: str) -> None:
    """Raise DownloadError unless ``csv_path`` starts with the expected CSV header."""
    with open(csv_path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        header = fh.readline().strip()
    if header.replace(" ", "") != EXPECTED_HEADER:
        raise DownloadError(
            f"{rel} in the archive has header {header[:60]!r}, expected {EXPECTED_HEADER!r}; "
            "this does not look like the GUE benchmark. No data was written."
        )


def unpack_archive(zip_path: Path, data_dir: Path, *, what: str = "gue") -> Path:
    """Unpack ``zip_path`` into ``data_dir/<dataset>`` atomically and return that folder.

    The archive may hold the task folders at its root or below one top-level folder
    (e.g. ``GUE/``); ``__MACOSX`` and similar junk are ignored.  The expected files are
    checked before the result is moved into place; an existing target is replaced.
    Raises DownloadError with a user-facing message on any problem.
    """
    spec = DATASETS[what]
    zip_path = Path(zip_path)
    data_dir = Path(data_dir)
    if not zip_path.is_file():
        raise DownloadError(f"archive {zip_path} does not exist")
    created_dir = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / spec.dirname
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.dirname}.unpack.", dir=data_dir))
    old: Path | None = None
    try:
        (_extract_tar if spec.kind == "tar" else _extract)(zip_path, tmp)
        root = _find_root(tmp, spec.required[0])
        if root is None:
            raise DownloadError(
                f"archive {zip_path} does not look like the {spec.dirname} benchmark: "
                f"{spec.required[0]} not found at its root or in a top-level folder. "
                "No data was written."
            )
        for rel in spec.required:
            if not (root / rel).is_file():
                raise DownloadError(
                    f"archive {zip_path} does not look like the {spec.dirname} benchmark: "
                    f"{rel} is missing. No data was written."
                )
            (_check_mat if rel.endswith(".mat") else _check_header)(root / rel, rel)
        if spec.kind == "tar" and target.is_dir():  # keep what else is there (the sample CSV)
            for old_file in target.iterdir():
                if old_file.is_file() and not (root / old_file.name).exists():
                    shutil.copyfile(old_file, root / old_file.name)
        for url, name in spec.extra:
            if not (root / name).exists():
                _fetch_extra(url, root / name)
        if target.exists() or target.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{spec.dirname}.old.", dir=data_dir))
            os.replace(target, old / spec.dirname)
        os.replace(root, target)
    except BaseException:
        if old is not None and not target.exists():
            os.replace(old / spec.dirname, target)  # put the previous data back
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        if created_dir:
            with contextlib.suppress(OSError):  # only removes it if still empty
                data_dir.rmdir()
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- downloading


def _is_hidden(attrs: dict[str, str]) -> bool:
    return attrs.get("type", "hidden").lower() == "hidden"


class _FormParser(HTMLParser):
    """Collect the first form's action and its hidden inputs (Drive's confirm page)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
            self._in_form = True
        elif tag == "input" and self._in_form and a.get("name") and _is_hidden(a):
            self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _confirm_url(page: str, url: str, jar: http.cookiejar.CookieJar) -> str | None:
    """Return the follow-up URL for a Google Drive 'confirm download' page, if any."""
    parser = _FormParser()
    try:
        parser.feed(page)
    except Exception:  # malformed HTML: fall through to the other strategies
        parser.action = None
    if parser.action is not None and "confirm" in parser.fields:
        action = urllib.parse.urljoin(url, parser.action or url)
        return action.split("?")[0] + "?" + urllib.parse.urlencode(parser.fields)
    token = next((c.value for c in jar if c.name.startswith("download_warning")), None)
    if token is None:
        match = _CONFIRM_RE.search(page)
        token = match.group(1) if match else None
    if not token:
        return None
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["confirm"] = token
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _open(url: str, timeout: float) -> http.client.HTTPResponse:
    """Open ``url`` and return a response that is (hopefully) the archive itself.

    Follows Google Drive's virus-scan confirmation page once.  Raises SourceError if the
    server only ever answers with an HTML page, urllib errors on network/HTTP failure.
    """
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    headers = {"User-Agent": USER_AGENT}
    resp = opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)
    if "text/html" not in resp.headers.get("Content-Type", ""):
        return resp
    with resp:
        page = resp.read(2_000_000).decode("utf-8", errors="replace")
    follow = _confirm_url(page, url, jar)
    if follow is None:
        raise SourceError("answered with an HTML page instead of a zip file")
    resp = opener.open(urllib.request.Request(follow, headers=headers), timeout=timeout)
    if "text/html" in resp.headers.get("Content-Type", ""):
        resp.close()
        raise SourceError("answered with an HTML page instead of a zip file (confirm step)")
    return resp


def _fmt_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _stream(resp: BinaryIO, out: BinaryIO, total: int | None, quiet: bool) -> int:
    """Copy ``resp`` to ``out`` in chunks, reporting progress on stderr; return bytes copied."""
    done = 0
    next_report = 0
    tty = sys.stderr.isatty()
    while True:
        chunk = resp.read(CHUNK)
        if not chunk:
            break
        out.write(chunk)
        done += len(chunk)
        if not quiet and (tty or done >= next_report):
            pct = f" ({100 * done / total:.0f}%)" if total else ""
            msg = f"  {_fmt_size(done)}{pct}"
            print(f"\r{msg}" if tty else msg, end="" if tty else "\n", file=sys.stderr, flush=True)
            next_report = done + 50 * CHUNK
    if not quiet and tty:
        print(file=sys.stderr)
    return done


def download(
    url: str, dest: Path, *, timeout: float = TIMEOUT_S, quiet: bool = False, kind: str = "zip"
) -> Path:
    """Download ``url`` to ``dest`` atomically (temp file in ``dest.parent``, then rename).

    Nothing is created before the server has answered.  Raises urllib errors on network
    failures and SourceError if the payload is incomplete or not a zip archive.
    """
    resp = _open(url, timeout)
    with resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                done = _stream(resp, out, total, quiet)
                out.flush()
                os.fsync(out.fileno())
            if total is not None and done != total:
                raise SourceError(f"download incomplete: got {done} of {total} bytes")
            _check_kind(tmp, kind)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return dest


def _check_kind(path: Path, kind: str) -> None:
    """Raise SourceError unless ``path`` is the archive ``kind`` names (``file``: anything)."""
    if kind == "tar" and not tarfile.is_tarfile(path):
        raise SourceError("downloaded file is not a tar archive")
    if kind == "zip" and not zipfile.is_zipfile(path):
        raise SourceError("downloaded file is not a zip archive")


def download_from_hub(
    file: HubFile, dest: Path, *, timeout: float = TIMEOUT_S, quiet: bool = False, kind: str = "zip"
) -> Path:
    """Download ``file`` with huggingface_hub's client (which retries and resumes) into a
    hidden folder beside ``dest``, check it, then rename it into place.

    Raises ConnectionError when the hub cannot be reached (or HF_HUB_OFFLINE=1), SourceError
    when it answers without the file or the transfer fails.
    """
    from huggingface_hub import hf_hub_download, is_offline_mode
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    from huggingface_hub.utils import logging as hub_logging
    from huggingface_hub.utils import silent_tqdm

    if quiet:  # the hub client's retries and resumes are logged as warnings
        hub_logging.set_verbosity_error()
    if is_offline_mode():  # before anything is created
        raise ConnectionError("HF_HUB_OFFLINE=1 (set HF_HUB_OFFLINE=0 to use the hub)")
    created_dir = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".hub", dir=dest.parent))
    try:
        try:
            path = Path(hf_hub_download(
                file.repo_id, file.filename, repo_type="dataset", endpoint=file.endpoint,
                local_dir=tmp, etag_timeout=timeout, tqdm_class=silent_tqdm if quiet else None))
        except LocalEntryNotFoundError as exc:  # no answer about the file: why
            cause = exc.__cause__
            if isinstance(cause, HfHubHTTPError):
                raise SourceError(str(cause).splitlines()[0]) from exc
            raise ConnectionError(str(cause or exc)) from exc
        except HfHubHTTPError as exc:  # a missing or gated repository
            raise SourceError(str(exc).splitlines()[0]) from exc
        except Exception as exc:  # the transfer, in whatever HTTP library the client uses
            raise SourceError(f"download failed: {exc}") from exc
        _check_kind(path, kind)
        os.replace(path, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created_dir:
            with contextlib.suppress(OSError):  # only removes it if still empty
                dest.parent.rmdir()
    return dest


_NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException)


def _fetch_extra(url: str, dest: Path) -> None:
    """A small file the archive lacks; without network, say where to put it by hand."""
    try:
        download(url, dest, quiet=True, kind="file")
    except (*_NETWORK_ERRORS, SourceError) as exc:
        print(f"warning: could not fetch {url} ({exc}); put that file at {dest.name} in the "
              "unpacked folder before training", file=sys.stderr)


def _offline_message(spec: DatasetSpec, unreachable: dict[str, str]) -> str:
    """``unreachable``: each host and why it could not be reached."""
    hosts = "; ".join(f"{host}: {reason}" for host, reason in unreachable.items())
    return (
        f"error: could not reach the download host ({hosts}). No data was written.\n"
        f"To get the data without internet here: on a machine with internet, download "
        f"{spec.manual_hint} (or run this script there), copy the zip here and run\n"
        f"  python scripts/download_data.py --archive PATH/{spec.archive_name}\n"
        f"or copy the unpacked {spec.dirname}/ folder into some directory DIR and set "
        "LINGO_DATA_DIR=DIR."
    )


def fetch(
    spec: DatasetSpec, sources: list[tuple[str, Source]], dest: Path, *, timeout: float,
    quiet: bool
) -> Path:
    """Try ``sources`` in order; return the downloaded archive or raise DownloadError."""
    unreachable: list[tuple[str, str, str]] = []  # (name, host, reason)
    failed: list[str] = []
    for name, source in sources:
        url = source.url if isinstance(source, HubFile) else source
        host = urllib.parse.urlsplit(url).netloc or url
        if not quiet:
            print(f"Downloading {spec.dirname} from {name}: {url}", file=sys.stderr)
        get = download_from_hub if isinstance(source, HubFile) else download
        try:
            return get(source, dest, timeout=timeout, quiet=quiet, kind=spec.kind)
        except urllib.error.HTTPError as exc:
            failed.append(f"{name} ({host}): HTTP {exc.code} {exc.reason}")
        except SourceError as exc:
            failed.append(f"{name} ({host}): {exc}")
        except _NETWORK_ERRORS as exc:
            reason = getattr(exc, "reason", None) or exc
            unreachable.append((name, host, str(reason) or type(exc).__name__))
        if not quiet and (name, source) != sources[-1]:
            print(f"  {name} failed, trying the next source", file=sys.stderr)
    if not failed and unreachable:
        raise DownloadError(_offline_message(spec, {h: r for _, h, r in unreachable}))
    lines = failed + [f"{n} ({h}): unreachable: {r}" for n, h, r in unreachable]
    raise DownloadError(
        f"error: could not download {spec.dirname} from any source. No data was written.\n  "
        + "\n  ".join(lines)
        + f"\nDownload {spec.manual_hint} by hand and run "
        f"`python scripts/download_data.py --archive PATH/{spec.archive_name}`, "
        "or pass another mirror with --url URL."
    )


# --------------------------------------------------------------------------- command line


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Download and unpack the GUE benchmark into <data_dir>/GUE (--what "
        "deepsea: the DeepSEA bundle into <data_dir>/DeepSEA).",
        epilog="Offline? Download the zip elsewhere and use --archive, or copy the "
        "unpacked folder and set LINGO_DATA_DIR.",
    )
    p.add_argument(
        "--what",
        choices=sorted(DATASETS),
        default="gue",
        help="dataset to fetch (default: gue); add entries to DATASETS for more",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="destination root (default: $LINGO_DATA_DIR or data/)",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--url",
        action="append",
        metavar="URL",
        help="download the zip from URL instead of the built-in SOURCES (repeatable)",
    )
    src.add_argument(
        "--archive", type=Path, metavar="PATH", help="unpack an already-downloaded zip"
    )
    p.add_argument("--force", action="store_true", help="re-download and replace existing data")
    p.add_argument(
        "--keep-archive",
        action="store_true",
        help="keep the downloaded zip in data_dir after unpacking",
    )
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help="network timeout in seconds")
    p.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status (0 ok, 2 failure)."""
    args = _parse_args(argv)
    spec = DATASETS[args.what]
    data_dir: Path = args.data_dir or Path(os.environ.get("LINGO_DATA_DIR") or "data")
    target = data_dir / spec.dirname
    complete = all((target / rel).is_file() for rel in spec.required)
    if target.exists() and not args.force and (spec.kind == "zip" or complete):
        if not args.quiet:
            print(f"{target} already exists; skipping (use --force to replace it).")
        return 0
    downloaded_now = False
    try:
        if args.archive is not None:
            zip_path = args.archive
        else:
            zip_path = data_dir / spec.archive_name
            if zip_path.is_file() and not args.force:
                if not args.quiet:
                    print(f"Using previously downloaded {zip_path}", file=sys.stderr)
            else:
                sources = [("--url", u) for u in args.url] if args.url else spec.sources
                fetch(spec, sources, zip_path, timeout=args.timeout, quiet=args.quiet)
                downloaded_now = True
        if not args.quiet:
            print(f"Unpacking {zip_path} ...", file=sys.stderr)
        try:
            out = unpack_archive(zip_path, data_dir, what=args.what)
        except DownloadError:
            if downloaded_now:  # a wrong file from a mirror: do not keep it around
                zip_path.unlink(missing_ok=True)
            elif args.archive is None:
                print(f"(delete {zip_path} to download it again)", file=sys.stderr)
            raise
        if args.archive is None and not args.keep_archive:
            zip_path.unlink(missing_ok=True)
    except DownloadError as exc:
        msg = str(exc)
        print(msg if msg.startswith("error:") else f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; no partial data was left behind.", file=sys.stderr)
        return 130
    if not args.quiet:
        if spec.kind == "zip":
            n_tasks = sum(1 for _ in out.glob("*/*/train.csv"))
            print(f"{spec.dirname} ready at {out} ({n_tasks} tasks).")
        else:
            print(f"{spec.dirname} ready at {out} ({', '.join(spec.required)}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
