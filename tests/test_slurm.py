"""Sweeps on SLURM (`hydra/launcher=slurm`) against a real single-node cluster on localhost
(tests/slurm_cluster.py): tiny runs on the synthetic demo task, so no data files are needed.
Skipped, with the install command, without root or the SLURM/munge/MariaDB packages."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.slurm_cluster import SlurmCluster, missing_requirements

# Tiny OPT on a small synthetic task, with k-mer tokens: fully offline, seconds per run.
TINY = ["model=tiny_opt", "task=demo", "tokenizer=kmer", "seed=1", "task.synthetic.n_train=64",
        "task.synthetic.n_dev=32", "task.synthetic.n_test=32", "logger=none",
        "trainer.progress_bar=false"]
# No GPU here; the jobs share the node's cores (1 CPU each). Over 10 min, else submitit takes
# any signal for a time-out (it counts a signal within max(80%, limit - 10 min) as preemption).
LAUNCHER = ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=null",
            "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2",
            "hydra.launcher.timeout_min=20", "hydra.launcher.signal_delay_s=30"]


def test_launcher_config_is_a_submitit_slurm_array():
    conf = yaml.safe_load((REPO / "conf" / "hydra" / "launcher" / "slurm.yaml").read_text())
    assert conf["defaults"] == ["submitit_slurm", "_self_"]
    assert conf["gpus_per_node"] == 1 and conf["tasks_per_node"] == 1
    assert conf["max_num_timeout"] > 0  # timed-out tasks are requeued (runs resume)
    assert conf["submitit_folder"].startswith("${hydra.sweep.dir}/")
    # launcher settings do not change a result: they stay out of the run directory's hash
    cmd = [sys.executable, "train.py", "model=tiny_opt", "trainer.lr=0.001",
           "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "--cfg", "hydra",
           "--package", "hydra.job"]
    # transformers prints a line to stdout on import when WANDB_MODE=offline: keep YAML alone
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}
    job = yaml.safe_load(subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                                        check=True, timeout=300, env=env).stdout)
    assert job["override_dirname"] == "trainer.lr=0.001"  # printed as `# @package hydra.job`


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    with SlurmCluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


def _env(cluster: SlurmCluster, cache: Path) -> dict[str, str]:
    return {**cluster.env, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline",
            "LINGO_CACHE_DIR": str(cache)}


def _sacct(cluster: SlurmCluster, *args: str) -> list[list[str]]:
    out = cluster.run("sacct", "-n", "--parsable2", "-o", "JobID,State", *args).stdout
    return [line.split("|") for line in out.splitlines() if line]


def _settled_sacct(cluster: SlurmCluster, *args: str, timeout_s: float = 60) -> list[list[str]]:
    """sacct's rows once none is pending or running. submitit returns as soon as a task has
    written its result, which can be before slurmd has reported the task's end to the
    controller: for a moment sacct may still say RUNNING."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = _sacct(cluster, *args)
        if time.monotonic() > deadline or not any(
                state in ("PENDING", "RUNNING", "COMPLETING") for _, state in rows):
            return rows
        time.sleep(0.5)


@pytest.mark.slurm
@pytest.mark.slow
def test_sweep_runs_as_a_slurm_array(slurm, tmp_path):
    cmd = [sys.executable, "train.py", "-m", *TINY, "method=lora,ars", "trainer.max_steps=6",
           "trainer.eval_steps=3", f"output_root={tmp_path}", *LAUNCHER]
    done = subprocess.run(cmd, cwd=REPO, env=_env(slurm, tmp_path / "cache"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:] + slurm.log_tail()

    metrics = [json.loads(p.read_text())
               for p in tmp_path.glob("runs/demo/*/seed1-*/metrics.json")]
    assert sorted((m["model"], m["method"]) for m in metrics) == [
        ("tiny_opt", "ars"), ("tiny_opt", "lora")]
    assert all(m["status"] == "completed" for m in metrics)

    # through SLURM: submitit's sbatch script and logs beside the runs, one array of 2 tasks
    submitit = tmp_path / "runs" / ".submitit"
    scripts = list(submitit.rglob("*_submission.sh"))
    assert scripts and "#SBATCH --array=0-1%" in scripts[0].read_text()
    assert len(list(submitit.rglob("*_log.out"))) == 2
    tasks = [row for row in _settled_sacct(slurm) if row[0].count("_") == 1 and "." not in row[0]]
    assert len(tasks) >= 2 and all(state == "COMPLETED" for _, state in tasks[-2:]), tasks


def _wait_for(predicate, timeout_s: float, what: str, driver: subprocess.Popen):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        if driver.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {driver.stderr.read()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"no {what} after {timeout_s:.0f} s")


@pytest.mark.slurm
@pytest.mark.slow
def test_preempted_task_is_requeued_and_resumes(slurm, tmp_path):
    """SIGUSR2 is what SLURM sends signal_delay_s before the time limit or on preemption:
    submitit requeues the task, and the run resumes from its last complete checkpoint."""
    cmd = [sys.executable, "train.py", "-m", *TINY, "method=lora", "trainer.max_steps=60",
           "trainer.eval_steps=5", f"output_root={tmp_path}", *LAUNCHER]
    driver = subprocess.Popen(cmd, cwd=REPO, env=_env(slurm, tmp_path / "cache"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        marker = _wait_for(
            lambda: next(tmp_path.glob("runs/demo/*/seed1-*/checkpoints/checkpoint-*/"
                                       "lingo_state.json"), None),
            300, "complete checkpoint", driver)
        job = slurm.run("squeue", "-h", "-o", "%i").stdout.split()
        assert len(job) == 1, job
        slurm.run("scancel", "--signal=USR2", job[0])
        _, stderr = driver.communicate(timeout=400)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 0, stderr[-3000:] + slurm.log_tail()

    run_dir = marker.parents[2]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["steps"] == 60
    assert "resuming from" in (run_dir / "train.log").read_text()
    logs = "".join(p.read_text() for p in (tmp_path / "runs" / ".submitit").rglob("*_log.*"))
    assert "this job is preempted" in logs and "Requeued job" in logs
    states = [state for _, state in _settled_sacct(slurm, "--duplicates", "-j", job[0])]
    assert "REQUEUED" in states and states[-1] == "COMPLETED", states


@pytest.mark.slurm
@pytest.mark.slow
def test_a_failed_run_fails_the_sweep(slurm, tmp_path):
    """A run's error comes back to the driver, which fails with it; metrics.json records it."""
    cmd = [sys.executable, "train.py", "-m", *TINY, "method=lora", "trainer.lr=-1",
           f"output_root={tmp_path}", *LAUNCHER]
    done = subprocess.run(cmd, cwd=REPO, env=_env(slurm, tmp_path / "cache"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "trainer.lr=-1.0 is outside [0.0, inf]" in done.stderr + done.stdout
    [found] = tmp_path.glob("runs/demo/*/seed1-*/metrics.json")
    metrics = json.loads(found.read_text())
    assert metrics["status"] == "failed" and "trainer.lr" in metrics["error"]
    assert list((tmp_path / "runs" / ".submitit").rglob("*_log.err"))  # it ran on SLURM


@pytest.mark.slurm
@pytest.mark.slow
def test_a_task_killed_without_result_fails_the_sweep(slurm, tmp_path):
    """A task that dies without writing its result (scancel, out of memory, a lost node) is seen
    through sacct: the driver stops waiting, names the task's state and shows its stderr."""
    # long enough that the task is still running when it is cancelled, whatever the load
    cmd = [sys.executable, "train.py", "-m", *TINY, "method=lora", "trainer.max_steps=2000",
           "trainer.eval_steps=5", f"output_root={tmp_path}", *LAUNCHER]
    driver = subprocess.Popen(cmd, cwd=REPO, env=_env(slurm, tmp_path / "cache"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        job = _wait_for(lambda: slurm.run("squeue", "-h", "-t", "RUNNING", "-o", "%i")
                        .stdout.split(), 300, "running task", driver)
        slurm.run("scancel", *job)
        _, stderr = driver.communicate(timeout=180)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode != 0
    assert "has not produced any output (state: CANCELLED" in stderr, stderr[-3000:]
