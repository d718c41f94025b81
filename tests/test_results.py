"""The run directory's files (lingo/results.py): atomic, readable as plain files are, and
trained by one process at a time."""

import errno
import fcntl
import os

import numpy as np
import pytest

from lingo.errors import RunBusy
from lingo.results import FILE_MODE, run_lock, save_predictions, write_atomic, write_json


def test_results_are_readable_by_others_as_the_umask_allows(tmp_path):
    """mkstemp creates files 0600; on a cluster's shared file system other users (and their
    `make tables`) must read the results as they read any file this user writes."""
    write_atomic(tmp_path / "config.yaml", "seed: 1\n")
    write_json(tmp_path / "metrics.json", {"status": "completed"})
    save_predictions(tmp_path / "test_predictions.npz", [[0.1, 0.9]], [1])
    (tmp_path / "plain.txt").write_text("x")
    plain = (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert plain == FILE_MODE
    for name in ("config.yaml", "metrics.json", "test_predictions.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == plain, name
    saved = np.load(tmp_path / "test_predictions.npz")
    assert saved["logits"].tolist() == [[np.float32(0.1), np.float32(0.9)]]
    assert saved["labels"].tolist() == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.yaml", "metrics.json", "plain.txt", "test_predictions.npz"]  # no temporaries


def test_the_run_lock_refuses_a_second_holder_and_goes_with_the_first(tmp_path):
    """flock locks an open file description: a second open of .lock (another process, or this
    one) cannot take it while the first holds it."""
    busy = rf"being trained by another process \(pid {os.getpid()} on"
    with run_lock(tmp_path / "run"), pytest.raises(RunBusy, match=busy), run_lock(tmp_path / "run"):
        pass
    with run_lock(tmp_path / "run"):  # released with its holder
        pass


def test_a_file_system_without_locks_runs_unlocked(tmp_path, monkeypatch, caplog):
    def no_locks(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)  # what filelock calls
    ran = False
    with run_lock(tmp_path / "run"):
        ran = True
    assert ran and "has no locks" in caplog.text

    def broken(handle, operation):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fcntl, "flock", broken)
    with pytest.raises(OSError, match="Input/output error"), run_lock(tmp_path / "run"):
        pass
