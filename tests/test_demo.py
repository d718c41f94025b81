"""`python train.py experiment=demo`: offline, no file outside the repo, test AUC >= 0.95."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_offline_with_nothing_outside_the_repo(demo_run):
    run_dir, done = demo_run
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test/auc"] >= 0.95
    assert metrics["train_seconds"] < 300  # 47 s alone on 2 cores; more beside other tests
    assert (metrics["model"], metrics["method"], metrics["tokenizer"]) == (
        "tiny_opt", "fmft", "kmer")
    assert f"results: {run_dir / 'metrics.json'}" in done.stdout
    assert "W&B offline run:" in done.stdout + done.stderr  # Hydra logs to stdout
    assert list((run_dir / "wandb").glob("offline-run-*"))
