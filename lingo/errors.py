"""User-facing errors: one message that names the file, row and fix, never a deep traceback."""

import os


class LingoError(Exception):
    """A problem the user can fix (bad input, missing file, bad option); printed as one line."""


def hub_unreachable(name: str, what: str, err: Exception) -> LingoError:
    """The one message for a model or tokenizer that cannot be loaded from the hub."""
    first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
    online = ("the hub did not answer" if os.environ.get("HF_HUB_OFFLINE") == "0" else
              "Lingo runs offline unless HF_HUB_OFFLINE=0: with internet, run with "
              "HF_HUB_OFFLINE=0 to download it")
    return LingoError(
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
