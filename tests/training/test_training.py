"""Real tiny training runs on the real prom_300_tata (its test split cut to 96 rows:
``short_test_env``), through the real entrypoint."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lingo.report.runs import collect_runs
from lingo.training.checkpoints import MARKER, last_complete_checkpoint
from lingo.training.precision import resolve_precision
from tests.conftest import REPO, run_train

pytestmark = pytest.mark.slow

# checkpoints selected on 64 dev rows: a tiny run evaluates dev often, and its numbers are not
# under test (the subset is the one of every run seed, as in a user's run)
QUICK = ["model=tiny_opt", "task=prom_tata", "task.dev_subset=64", "logger=none",
         "trainer.progress_bar=false"]


def train_args(run_dir: Path, *overrides: str) -> list[str]:
    return [*QUICK, f"hydra.run.dir={run_dir}", *overrides]


def train_cmd(run_dir: Path, *overrides: str) -> list[str]:
    """The command, for the tests of what only a process shows (a kill, a second launch)."""
    return [sys.executable, "train.py", *train_args(run_dir, *overrides)]


def train(env: dict, run_dir: Path, *overrides: str) -> dict:
    done = run_train(train_args(run_dir, *overrides), env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


REQUIRED = {"test/auc", "test/mcc", "test/accuracy", "test/f1", "dev/auc", "dev/mcc", "best_step",
            "trainable_params", "total_params", "train_seconds", "model", "method", "task",
            "tokenizer", "train_split", "seed", "variant", "git_commit", "status"}


@pytest.mark.parametrize("method", ["fmft", "lora", "adalora", "probe"])
def test_tiny_run_per_method_writes_a_complete_run_dir(short_test_env, tmp_path, method):
    run_dir = tmp_path / "run"
    extra = ["method.delta_t=5"] if method == "adalora" else []
    metrics = train(short_test_env, run_dir, f"method={method}", "trainer.max_steps=30", *extra)
    assert set(metrics) >= REQUIRED
    assert metrics["status"] == "completed" and metrics["method"] == method
    # the overrides beyond the cell's names: other settings, kept apart by the tables
    assert metrics["variant"] == " ".join(sorted(["task.dev_subset=64", "trainer.max_steps=30",
                                                  *extra]))
    # trainer.precision=auto, as resolved on this machine
    assert metrics["precision"] == resolve_precision("auto", torch.device("cpu"))
    assert metrics["train_split"] == "train" and metrics["n_train"] == 4904
    assert 0.0 <= metrics["test/auc"] <= 1.0 and -1.0 <= metrics["test/mcc"] <= 1.0
    assert 0 < metrics["trainable_params"] <= metrics["total_params"]
    if method == "fmft":
        assert metrics["trainable_params"] == metrics["total_params"]
    elif method == "probe":
        assert metrics["trainable_params"] == 64 * 2  # tiny_opt's score head (no bias)
    else:
        assert metrics["trainable_params"] < metrics["total_params"] / 10
    # dynamics.jsonl: a line per logging step (10), how far training moved the weights
    dynamics = [json.loads(line) for line in (run_dir / "dynamics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in dynamics] == [10, 20, 30]
    if method == "probe":  # the backbone never moves
        assert all(row["weight_distance"] == 0 for row in dynamics)
    else:
        moved = "weight_distance" if method == "fmft" else "delta_w"
        assert all(row[moved] > 0 for row in dynamics)
    if method == "adalora":  # the task loss and the orthogonality penalty, apart
        assert all(row["task_loss"] + row["orth_loss"] == pytest.approx(row["loss"], rel=1e-3)
                   for row in dynamics)
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history] == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    # FLOPs (lingo/flops.py): per optimizer step, cumulative in the history, OPT-125M-adjusted
    assert metrics["train_flops"] == metrics["flops_per_step"] * metrics["steps"] > 0
    assert [row["train_flops"] for row in history] == [
        row["step"] * metrics["flops_per_step"] for row in history]
    assert history[-1]["flops_adjusted_steps"] == pytest.approx(
        30 * metrics["flops_per_step"] / metrics["reference_flops_per_step"])
    best = max(history, key=lambda row: row["dev/auc"])
    assert metrics["best_step"] == best["step"]  # selected on dev
    assert metrics["dev/auc"] == pytest.approx(best["dev/auc"], abs=1e-6)
    preview = (run_dir / "inputs_preview.txt").read_text()
    assert preview.count("--- train input") == 3 and "</s>" in preview
    assert "trainer:" in (run_dir / "config.yaml").read_text()
    assert (run_dir / "model" / "adapter_config.json").is_file() == (method in ("lora",
                                                                                 "adalora"))
    assert not (run_dir / "checkpoints").exists()


def test_adalora_allocates_to_the_budget(short_test_env, tmp_path):
    """tinit = warmup (3), tfinal = 0.15 x 30 = 4: the final pattern holds exactly bT per matrix
    on average. The best checkpoint is the last one so that its pattern is the final one."""
    run_dir = tmp_path / "run"
    train(short_test_env, run_dir, "method=adalora", "trainer.max_steps=30", "method.delta_t=2",
          "trainer.eval_steps=30")
    pattern = json.loads((run_dir / "rank_pattern.json").read_text())["rank_pattern"]
    assert pattern, "AdaLoRA never allocated"
    kept = sum(sum(mask) for mask in pattern.values())
    assert kept == 6 * len(pattern)  # target_r=6 per matrix on average, exactly at T
    nonzero = json.loads((run_dir / "rank_pattern.json").read_text())["nonzero"]
    assert nonzero == pattern  # at T the model computes with exactly the kept triplets
    assert len(pattern) == 2 * 6  # 2 layers x 6 promoter matrices


@pytest.mark.parametrize("model", ["tiny_bert", "tiny_esm"])
@pytest.mark.parametrize("method", ["lora", "probe"])
def test_bert_and_esm_stand_ins_train(short_test_env, tmp_path, model, method):
    metrics = train(short_test_env, tmp_path / "run", f"model={model}", f"method={method}",
                    "trainer.max_steps=10", "trainer.eval_steps=5")
    assert metrics["status"] == "completed" and metrics["model"] == model
    if method == "probe":  # the classifier alone (BERT: one layer; ESM: dense + out_proj)
        assert metrics["trainable_params"] == {"tiny_bert": 64 * 2 + 2,
                                               "tiny_esm": 64 * 64 + 64 + 64 * 2 + 2}[model]


def test_finished_run_is_not_trained_again(short_test_env, tmp_path):
    run_dir = tmp_path / "run"
    first = train(short_test_env, run_dir, "method=lora", "trainer.max_steps=6",
                  "trainer.eval_steps=3")
    again = run_train(train_args(run_dir, "method=lora", "trainer.max_steps=6",
                                 "trainer.eval_steps=3"), short_test_env)
    assert again.returncode == 0 and "already completed" in again.stderr + again.stdout
    assert json.loads((run_dir / "metrics.json").read_text()) == first
    other = run_train(train_args(run_dir, "method=lora", "trainer.max_steps=6",
                                 "trainer.eval_steps=3", "trainer.lr=1e-3"), short_test_env)
    assert other.returncode == 2 and "trainer.lr: 3e-05 -> 0.001" in other.stderr  # refused
    assert json.loads((run_dir / "metrics.json").read_text()) == first
    records = sorted((run_dir / ".hydra").glob("*/overrides.yaml"))  # ... each attempt's own
    assert len(records) == 3 and "trainer.lr=1e-3" not in records[0].read_text()
    assert "trainer.lr=1e-3" in records[2].read_text()


def wait_for_marker(run_dir: Path, proc: subprocess.Popen, step: int) -> None:
    marker = run_dir / "checkpoints" / f"checkpoint-{step}" / MARKER
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, "the run ended before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize("kill_after_step", [10, 20])
def test_sigkill_then_same_command_resumes_to_the_same_metrics(short_test_env, tmp_path,
                                                                kill_after_step):
    args = ["method=adalora", "method.delta_t=2", "trainer.max_steps=40", "trainer.eval_steps=10"]
    reference = train(short_test_env, tmp_path / "reference", *args)

    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(train_cmd(run_dir, *args), cwd=REPO, env=short_test_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_marker(run_dir, proc, kill_after_step)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert not (run_dir / "metrics.json").exists()
    killed = collect_runs(run_dir).iloc[0]  # as make tables sees it: unfinished, its overrides
    assert killed["status"] == "incomplete" and killed["variant"] == " ".join(
        sorted(["task.dev_subset=64", *args[1:]]))
    resumed = train(short_test_env, run_dir, *args)
    for key in ("test/auc", "test/mcc", "dev/auc", "best_step", "steps", "trainable_params"):
        assert resumed[key] == reference[key], key
    assert (run_dir / "history.jsonl").read_text().count("\n") == 4


def test_sigkill_then_resume_keeps_the_early_stopping_count(short_test_env, tmp_path):
    """Killed one evaluation before early stopping ends the run, the resumed run must stop
    where the uninterrupted one did, not start counting its patience again."""
    args = ["method=lora", "trainer.max_steps=60", "trainer.eval_steps=3",
            "trainer.early_stopping_patience=2"]
    reference = train(short_test_env, tmp_path / "reference", *args)
    assert reference["steps"] < 60, "early stopping never ended the reference run"
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(train_cmd(run_dir, *args), cwd=REPO, env=short_test_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_marker(run_dir, proc, reference["steps"] - 3)
        assert proc.poll() is None, "the run ended before the kill"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    resumed = train(short_test_env, run_dir, *args)
    assert resumed["steps"] == reference["steps"]
    assert resumed["best_step"] == reference["best_step"]


def test_a_second_launch_of_a_run_in_progress_is_refused(short_test_env, tmp_path):
    """Say a sweep submitted again while the first still runs: the second process must neither
    train into the same checkpoints nor record anything in the other's run directory."""
    run_dir = tmp_path / "run"
    args = ["method=lora", "trainer.max_steps=400", "trainer.eval_steps=10"]
    first = subprocess.Popen(train_cmd(run_dir, *args), cwd=REPO, env=short_test_env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_marker(run_dir, first, 10)
        second = subprocess.run(train_cmd(run_dir, *args), cwd=REPO, env=short_test_env,
                                capture_output=True, text=True, timeout=600)
        assert first.poll() is None, "the first run ended before the second was refused"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"{run_dir} is being trained by another process (pid {first.pid} on" in second.stderr
    assert not (run_dir / "metrics.json").exists()
    assert last_complete_checkpoint(run_dir / "checkpoints") is not None  # the first's, kept


def test_incomplete_checkpoint_is_discarded(tmp_path):
    for step in (10, 20):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-10" / MARKER).write_text("{}")
    (tmp_path / "checkpoint-20" / "model.safetensors").write_text("half written")
    # a DDP rank other than 0 skips it: it may be another launch's checkpoint in progress
    assert last_complete_checkpoint(tmp_path, remove_incomplete=False) == tmp_path / "checkpoint-10"
    assert (tmp_path / "checkpoint-20").exists()
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    assert not (tmp_path / "checkpoint-20").exists()
    assert last_complete_checkpoint(tmp_path / "absent") is None


def test_arch_auto_is_recorded_as_resolved_and_the_config_as_asked(short_test_env, tokenizer_dir,
                                                                  tiny_promoters, tmp_path):
    """model=hf_causal (arch auto) on a local OPT: metrics.json records the arch the loaded
    model_type maps to; config.yaml keeps what was asked (the pipeline does not rewrite it)."""
    import shutil

    from transformers import OPTConfig, OPTForCausalLM

    folder = tmp_path / "tiny_opt_local"
    shutil.copytree(tokenizer_dir / "opt", folder)
    OPTForCausalLM(OPTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             ffn_dim=64, word_embed_proj_dim=32, max_position_embeddings=256)
                   ).save_pretrained(folder)
    run_dir = tmp_path / "run"
    done = run_train(["model=hf_causal", f"model.name_or_path={folder}", "method=lora",
                      "task=gue_folder", f"task.path={tiny_promoters}", "trainer.max_steps=2",
                      "trainer.eval_steps=2", "trainer.precision=fp32", "logger=none",
                      "trainer.progress_bar=false", f"hydra.run.dir={run_dir}"], short_test_env)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["arch"] == "opt" and metrics["trainable_params"] < metrics["total_params"]
    assert "arch: auto" in (run_dir / "config.yaml").read_text()
