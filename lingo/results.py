"""The run directory contract: what every downstream tool reads. Writes are atomic."""

import errno
import json
import logging
import math
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, BinaryIO

from filelock import FileLock, Timeout
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lingo.errors import RunBusy, storage_errno, storage_error

log = logging.getLogger(__name__)

METRICS = "metrics.json"
HISTORY = "history.jsonl"
CONFIG = "config.yaml"
PREVIEW = "inputs_preview.txt"
PER_LABEL = "per_label.json"  # multi-label: test/auc_per_label, test/auprc_per_label, labels
RANK_HISTORY = "rank_history.jsonl"  # AdaLoRA/ARS: one line per allocation event
RANK_PLOT = "rank_pattern.png"
RANK_PATTERN = "rank_pattern.json"  # AdaLoRA/ARS: kept singular values of the selected model
TEST_PREDICTIONS = "test_predictions.npz"  # the selected model's test logits and labels
DEV_PREDICTIONS = "dev_predictions.npz"  # the same on dev (choices made on dev: learning rates)
DYNAMICS = "dynamics.jsonl"  # a line per logging step: ΔW norm, the loss split (AdaLoRA-type)
DATA_FILES = "data_files.json"  # the files the run read: size and SHA-256 of each


def config_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a result is, read from its resolved config (a run's, or a W&B run's): the tables
    group runs by these keys, whether the run completed, failed or never finished."""

    def name(group: str) -> Any:
        return (config.get(group) or {}).get("name")

    return {
        "model": name("model"),
        "method": name("method"),
        "task": name("task"),
        "tokenizer": name("tokenizer"),
        "arch": (config.get("model") or {}).get("arch"),  # Table 1 reads OPT's BBPE runs by it
        "seed": config.get("seed"),
        "legacy": config.get("legacy"),
        # as asked (auto); a completed run's metrics.json then records the split it used
        "train_split": (config.get("task") or {}).get("train_split"),
    }


# Overrides that name a run's setup, not another variant of it (lingo.report.runs.setup_of)
SETUP_KEYS = ("legacy", "task.train_split")


def job_variant(hydra: Mapping[str, Any]) -> str:
    """A run's own overrides beyond those that name its cell and setup, as Hydra's
    ``override_dirname`` selects them (``hydra`` is the job's Hydra config): two runs that
    differ in them (say ``trainer.max_steps=30``) are other settings, never two seeds of one
    table cell. Empty for a run of the defaults, such as every job of the paper's sweeps."""
    excluded = {*hydra["job"]["config"]["override_dirname"]["exclude_keys"], *SETUP_KEYS}
    kept = [o for o in hydra["overrides"]["task"]
            if o.lstrip("+~").split("=", 1)[0] not in excluded]
    return " ".join(sorted(kept))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Results are read by others on a cluster's shared file system: the mode a plain open() would
# give, not mkstemp's private 0600
FILE_MODE = 0o666 & ~_umask()


def write_bytes_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write to a temporary file in the same folder, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:  # a full disk fails the write itself, which names no file
        Path(tmp).unlink(missing_ok=True)
        if err.filename is None:
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


LOCK = ".lock"  # held by the process that trains a run directory
NO_LOCKS = frozenset({errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP})  # flock on such storage


def _sign_lock(fd: int) -> None:
    """The holder writes who it is into the lock file, for the message a second launch gets."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One process at a time trains a run directory: a second launch of the same run (a sweep
    submitted again while the first one still runs) would train into the same checkpoints and
    delete the other's checkpoint in progress. The lock (flock, through filelock) goes with the
    process (killed or not); a shared file system keeps it across nodes where it supports flock
    (NFS does; Lustre and BeeGFS only with their flock option). Where it has no locks at all,
    runs go on unlocked: filelock's soft fallback, a marker file, would outlive a killed run and
    refuse its resubmission."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_dir / LOCK, blocking=False, fallback_to_soft=False,
                    on_acquired=_sign_lock)
    held: AbstractContextManager[object]
    try:
        held = lock.acquire()
    except Timeout:
        holder = (run_dir / LOCK).read_text().strip() or "unknown"
        raise RunBusy(f"{run_dir} is being trained by another process ({holder}): wait for it "
                      "to finish, or set hydra.run.dir=<another folder>") from None
    except OSError as err:
        if err.errno not in NO_LOCKS:
            raise
        log.warning("%s: this file system has no locks (%s); two launches of this run "
                    "at once would not be told apart", run_dir, err.strerror)
        held = nullcontext()
    with held:
        yield


def write_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, lambda handle: handle.write(text.encode()))


def _clean(value: Any) -> Any:
    """JSON has no NaN: an undefined metric is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(_clean(data), indent=2, sort_keys=True) + "\n")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    write_atomic(path, "".join(json.dumps(_clean(row), sort_keys=True) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file; none when it does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def save_predictions(path: Path, logits: Any, labels: Any) -> None:
    """``logits`` (n x classes; the metrics' softmax gives the probabilities) and ``labels`` of
    the test rows in file order, atomically (bootstrap intervals are computed from them)."""
    import numpy as np

    write_bytes_atomic(path, lambda handle: np.savez(
        handle, logits=np.asarray(logits, dtype=np.float32), labels=np.asarray(labels)))


def read_metrics(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / METRICS
    return json.loads(path.read_text()) if path.is_file() else None


def git_commit() -> str:
    """The commit of the code that ran, with ``-dirty`` if it had uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


class RunDirCheck(Callback):
    """Hydra creates the run (or sweep) directory itself, before any Lingo code runs: one it
    cannot create or write (a read-only ``output_root``, a full disk) would end in Hydra's
    traceback. This checks it first and ends in one line, exit code 2 (conf/config.yaml)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.sweep.dir")

    @staticmethod
    def _check(config: DictConfig, key: str) -> None:
        HydraConfig.instance().set_config(config)  # for ${hydra:...} in the path, as Hydra does
        folder = Path(str(OmegaConf.select(config, key))).absolute()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as err:
            code = storage_errno(err)
            if code is None:
                raise
            where = Path(err.filename) if err.filename else folder
            error = storage_error(where, code, f"output_root= (or {key}=)")
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
