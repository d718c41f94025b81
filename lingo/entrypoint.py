"""``train.py``'s policy around a run: exit codes, the outcome recorded in the run directory,
a sweep's failed jobs, and what is removed when nothing was trained."""

import logging
import shutil
import sys
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig

from lingo import pipeline
from lingo.errors import LingoError, NotRun, RunBusy, Unavailable, storage_errno, storage_error
from lingo.pipeline import identity
from lingo.results import LOCK, METRICS, read_metrics, run_lock, write_json
from lingo.training.distributed import is_main_process

log = logging.getLogger(__name__)


def main_or_exit(cfg: DictConfig) -> float | None:
    """The entrypoint's body: a user error is one line on stderr and exit code 2; any failure
    is recorded in the run directory's metrics.json as ``status: failed``. In a sweep, a
    combination the paper does not run is recorded as ``status: skipped`` (exit 0), and a failed
    job is raised to Hydra, which runs the sweep's other jobs and then reports them."""
    hydra = HydraConfig.get()
    run_dir = Path(hydra.runtime.output_dir)
    sweeping = hydra.mode == RunMode.MULTIRUN
    try:
        with run_lock(run_dir) if is_main_process() else nullcontext():
            metrics = _run_and_record(cfg, run_dir, sweeping)  # its outcome, under the lock
    except RunBusy as err:  # the run belongs to the other process: nothing recorded here
        _fail(cfg, run_dir, err, sweeping, record=False)
    if not metrics:  # skipped, or a DDP rank other than 0
        return None
    print(f"results: {run_dir / METRICS}")
    print(f"test/auc={metrics.get('test/auc')}, test/mcc={metrics.get('test/mcc')}")
    return metrics.get(f"dev/{cfg.task.selection_metric}")


def _run_and_record(cfg: DictConfig, run_dir: Path, sweeping: bool) -> dict[str, Any]:
    """``run``; a run that is not one, or fails, is recorded in its metrics.json, except one
    whose model or tokenizer cannot be loaded: nothing was trained, and its directory goes."""
    try:
        return _run_on_storage(cfg, run_dir)
    except NotRun as err:
        if not sweeping:
            _fail(cfg, run_dir, err, sweeping)
        _record_outcome(cfg, run_dir, "skipped", str(err))
        print(f"skipped: {err}", file=sys.stderr)
        return {}
    except Unavailable as err:
        _fail(cfg, run_dir, err, sweeping, record=not _remove_attempt(cfg, run_dir))
    except LingoError as err:
        _fail(cfg, run_dir, err, sweeping)
    except Exception as err:
        _record_outcome(cfg, run_dir, "failed",
                        "".join(traceback.format_exception_only(err)).strip())
        raise


def _run_on_storage(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """``run``; a write the storage refuses (read-only, no permission, full) is a user error
    naming the path and the setting that moves it, not the OS's traceback."""
    try:
        return pipeline.run(cfg, run_dir)
    except Exception as err:
        code = storage_errno(err)
        if code is None:
            raise
        path = Path(getattr(err, "filename", None) or run_dir).resolve()
        cache = Path(cfg.cache_dir).resolve()
        setting = ("LINGO_CACHE_DIR (or cache_dir=)" if path == cache or cache in path.parents
                   else "output_root= (or hydra.run.dir= for this run alone)")
        raise storage_error(path, code, setting) from None


# This process's failed sweep jobs, "run directory: error", for the sweep's closing report
FAILED_JOBS: list[str] = []


class SweepJobFailed(CompactHydraException):
    """A failed job of a sweep, raised to Hydra: Hydra runs the other jobs, then raises the
    first failed job's exception and prints its message alone (no traceback, as for any
    CompactHydraException). Read then, the message names every job that failed in this process
    (the local launcher's sweep); a job run in another process names itself."""

    def __str__(self) -> str:
        failed = FAILED_JOBS if self.args[0] in FAILED_JOBS else [self.args[0]]
        return (f"error: {len(failed)} job{'s' if len(failed) > 1 else ''} of the sweep failed "
                "(each recorded in its metrics.json):\n" + "\n".join(f"  {f}" for f in failed))


def _fail(cfg: DictConfig, run_dir: Path, err: LingoError, sweeping: bool,
          record: bool = True) -> NoReturn:
    """A user error: recorded in the run directory (``record``), then one line and exit code 2,
    or in a sweep, the job failed for Hydra's closing report."""
    if record:
        _record_outcome(cfg, run_dir, "failed", str(err))
    if not sweeping:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"failed: {err}", file=sys.stderr)
    FAILED_JOBS.append(f"{run_dir}: {err}")
    raise SweepJobFailed(FAILED_JOBS[-1]) from None


def _remove_attempt(cfg: DictConfig, run_dir: Path) -> bool:
    """Removes what this attempt wrote (Hydra's record of it, its log, the lock) and then the
    run directory and the folders made for it under output_root where they are left empty, so
    that ``make tables`` lists no run that never trained. Anything else in them stays: False
    where the directory holds an earlier attempt, which keeps its record."""
    hydra = HydraConfig.get()
    record = run_dir / (hydra.output_subdir or ".")  # .hydra/<time>: one folder per attempt
    attempts = record.parent
    if attempts == run_dir or not attempts.is_dir() or list(attempts.iterdir()) != [record]:
        return False
    shutil.rmtree(record, ignore_errors=True)
    for written in (run_dir / f"{hydra.job.name}.log", run_dir / LOCK):
        written.unlink(missing_ok=True)
    for folder in (attempts, run_dir):
        if any(folder.iterdir()):  # a file this attempt did not write: kept, with its folder
            return True
        folder.rmdir()
    root = Path(cfg.output_root).resolve()
    for parent in run_dir.resolve().parents:
        if root not in parent.parents or any(parent.iterdir()):
            break
        parent.rmdir()
    return True


def _record_outcome(cfg: DictConfig, run_dir: Path, status: str, error: str) -> None:
    """Never over a completed result: a refused re-run must not cost the earlier one."""
    if not is_main_process():
        return
    done = read_metrics(run_dir)
    if done and done.get("status") == "completed":
        return
    try:
        write_json(run_dir / METRICS, {**identity(cfg), "status": status, "error": error})
    except Exception as err:  # reporting must never hide the original error
        log.warning("could not record the outcome in %s (%s)", run_dir / METRICS, err)
