"""`python train.py experiment=demo`: offline, no file outside the repo, test AUC >= 0.95."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_demo_runs_offline_with_nothing_outside_the_repo(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINGO_", "WANDB_"))}
    env.update(HF_HUB_OFFLINE="1", LINGO_CACHE_DIR=str(tmp_path / "cache"))
    run_dir = tmp_path / "demo"
    cmd = [sys.executable, "train.py", "experiment=demo", f"hydra.run.dir={run_dir}"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test/auc"] >= 0.95
    assert metrics["train_seconds"] < 180
    assert (metrics["model"], metrics["method"], metrics["tokenizer"]) == (
        "tiny_opt", "fmft", "kmer")
    assert f"results: {run_dir / 'metrics.json'}" in done.stdout
    assert "W&B offline run:" in done.stdout + done.stderr  # Hydra logs to stdout
    assert list((run_dir / "wandb").glob("offline-run-*"))
