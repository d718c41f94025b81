"""User-facing errors: one message that names the file, row and fix, never a deep traceback."""

import errno
import os
import re


class LingoError(Exception):
    """A problem the user can fix (bad input, missing file, bad option); printed as one line."""


class Unavailable(LingoError):
    """A model or tokenizer that cannot be loaded: nothing was trained, so the run leaves no
    run directory behind (lingo.entrypoint)."""


# What the OS says when a folder cannot take a write: the user fixes it (another folder, space)
STORAGE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT})
RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")  # Rust's io::Error, as safetensors shows it


def storage_errno(err: Exception) -> int | None:
    """The errno of a write the storage refused: an OSError's, or the one in the message of a
    Rust library's I/O error (safetensors, which writes the checkpoints); else None."""
    if isinstance(err, OSError):
        code = err.errno
    else:
        match = RUST_OS_ERROR.search(str(err))
        code = int(match[1]) if match else None
    return code if code in STORAGE_ERRNOS else None


def storage_error(path: object, code: int, setting: str) -> LingoError:
    """A write refused by the storage (``code``: read-only, no permission, full) as one line:
    the path, what failed and the fix, which frees space or moves the folder by ``setting``."""
    if code in (errno.ENOSPC, errno.EDQUOT):
        fix = f"free space there, or set {setting} to a folder with space"
    else:
        fix = f"set {setting} to a writable folder"
    return LingoError(f"{path}: cannot write there ({os.strerror(code)}); {fix}")


def hub_unreachable(name: str, what: str, err: Exception) -> Unavailable:
    """The one message for a model or tokenizer that cannot be loaded from the hub."""
    first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
    online = ("the hub did not answer" if os.environ.get("HF_HUB_OFFLINE") == "0" else
              "Lingo runs offline unless HF_HUB_OFFLINE=0: with internet, run with "
              "HF_HUB_OFFLINE=0 to download it")
    return Unavailable(
        f"cannot load the {what} {name!r} ({type(err).__name__}: {first_line}). {online}; "
        f"without internet, download it on a machine with it (huggingface-cli download {name} "
        "--local-dir DIR) and run with model.name_or_path=DIR model.tokenizer=DIR"
    )


class NotRun(LingoError):
    """A combination the paper does not run (the Lingo prompt on a DNA model, say): a single
    run refuses it; in a sweep, which is cartesian, it is recorded as ``status: skipped``."""


class RunBusy(LingoError):
    """Another process trains this run directory now (lingo.results.run_lock)."""


class DataError(LingoError):
    """Invalid or missing data: the message names the file, the row and the fix."""

    def __init__(self, path: object, problem: str, fix: str, row: int | None = None) -> None:
        self.path, self.problem, self.fix, self.row = path, problem, fix, row
        where = f"{path}" if row is None else f"{path}, row {row}"
        super().__init__(f"{where}: {problem}. Fix: {fix}")

    def __reduce__(self) -> tuple[type, tuple[object, str, str, int | None]]:
        # the default rebuilds from the message alone, which this __init__ cannot take (so the
        # error could not cross a process boundary, e.g. a launcher or a data-loading worker)
        return (type(self), (self.path, self.problem, self.fix, self.row))
