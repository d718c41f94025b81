"""Loggers against their real outputs: W&B offline run files, the CSV log; and the hub error."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Finished, run_train
from tests.training.test_training import train_args

pytestmark = pytest.mark.slow


def run(env: dict, run_dir: Path, *overrides: str, process: bool = False) -> Finished:
    args = [arg for arg in train_args(run_dir, *overrides) if arg != "logger=none"]
    return run_train(args, env, process)


def test_wandb_offline_run_holds_config_curves_and_results(short_test_env, tmp_path):
    run_dir = tmp_path / "run"
    done = run(short_test_env, run_dir, "logger=wandb", "method=ars", "method.delta_t=3",
               "trainer.max_steps=20", "trainer.eval_steps=10")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wandb sync" in done.stderr + done.stdout  # says where the offline run went
    files = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    inspect = subprocess.run(
        [str(Path(sys.executable).parent / "wandb"), "leet", "inspect", "--summary", "--json",
         str(files[0])], capture_output=True, text=True, timeout=120, check=True)
    record = json.loads(inspect.stdout)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    summary = record["summary"]
    for key in ("test/auc", "test/mcc", "dev/auc", "trainable_params", "params_at_budget"):
        assert summary[key] == pytest.approx(metrics[key]), key
    assert record["config"]["model"]["name"] == "tiny_opt"
    assert record["config"]["method"]["name"] == "ars" and record["config"]["seed"] == 42
    # what the tables need of a run that never finishes (no summary) to place it
    assert record["config"]["variant"] == metrics["variant"] == (
        "method.delta_t=3 task.dev_subset=64 trainer.eval_steps=10 trainer.max_steps=20")
    assert summary["_step"] > 0  # curves were logged
    assert record["project"] == "lingo"


def test_csv_logger_writes_the_training_log(short_test_env, tmp_path):
    run_dir = tmp_path / "run"
    done = run(short_test_env, run_dir, "logger=csv", "method=lora", "trainer.max_steps=10",
               "trainer.eval_steps=5", "trainer.logging_steps=5")
    assert done.returncode == 0, done.stderr[-2000:]
    header, *rows = (run_dir / "log.csv").read_text().splitlines()
    assert "loss" in header.split(",") and "eval_auc" in header.split(",")
    assert len(rows) >= 4
    assert not (run_dir / "wandb").exists()


def test_unreachable_hub_model_is_one_clear_message(short_test_env, tmp_path):
    """Offline by default (without HF_HUB_OFFLINE the hub client would retry for a minute)."""
    env = {k: v for k, v in short_test_env.items() if k != "HF_HUB_OFFLINE"}
    done = run(env, tmp_path / "run", "logger=none", "model=opt125m", "method=lora",
               "trainer.max_steps=1", process=True)  # the hub reads HF_HUB_OFFLINE on import
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "model.name_or_path=DIR" in errors[0]
    assert "HF_HUB_OFFLINE=0" in errors[0] and "Retrying" not in done.stderr
    assert "facebook/opt-125m" in errors[0] and "Traceback" not in done.stderr


def test_a_failed_run_closes_its_wandb_run_so_the_next_job_logs_to_its_own(tmp_path,
                                                                             monkeypatch):
    """Jobs of a local sweep share one process: a run left open by a failed job would be
    returned by the next job's wandb.init, which would log its results into it."""
    from lingo.config import LoggerConfig
    from lingo.training.loggers import RunLogger

    monkeypatch.setenv("WANDB_SILENT", "true")
    config = LoggerConfig(name="wandb", mode="offline")
    for job in ("failed", "next"):
        (tmp_path / job).mkdir()
    with pytest.raises(RuntimeError), RunLogger(config, tmp_path / "failed", "failed", {}):
        raise RuntimeError("the job failed mid-run")
    with RunLogger(config, tmp_path / "next", "next", {"job": "next"}) as logger:
        assert Path(logger.run.dir).is_relative_to(tmp_path / "next")
        logger.finish({"status": "completed"})
    (failed,) = (tmp_path / "failed" / "wandb").glob("offline-run-*/run-*.wandb")
    inspect = subprocess.run(
        [str(Path(sys.executable).parent / "wandb"), "leet", "inspect", "--summary", "--json",
         str(failed)], capture_output=True, text=True, timeout=120, check=True)
    summary = json.loads(inspect.stdout)["summary"]
    assert summary["status"] == "failed" and "mid-run" in summary["error"]
    # SLURM preemption exits (submitit: sys.exit(-1)) to resume later: that is no failure
    (tmp_path / "preempted").mkdir()
    with pytest.raises(SystemExit), RunLogger(config, tmp_path / "preempted", "p", {}) as logger:
        raise SystemExit(-1)
    assert logger.run is not None  # not finished as failed
    logger.finish({"status": "completed"})
