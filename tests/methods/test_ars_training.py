"""ARS and Lingo through the real entrypoint on the real prom_300_tata (tiny OPT)."""

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, run_train
from tests.training.test_training import train, train_args, train_cmd, wait_for_marker

pytestmark = pytest.mark.slow

# 40 steps: tinit = warmup = 4, tfinal = 0.15 x 40 = 6, so events at 6, 9, ..., 33 and T = 34.
SCHEDULE = ["trainer.max_steps=40", "trainer.eval_steps=10", "method.delta_t=3"]


def rank_history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "rank_history.jsonl").read_text().splitlines()]


def test_ars_with_p_zero_is_peft_adalora(short_test_env, tmp_path):
    ada = train(short_test_env, tmp_path / "adalora", "method=adalora", *SCHEDULE)
    ars = train(short_test_env, tmp_path / "ars", "method=ars", "method.p_drop=0",
                "method.p_revive=0", *SCHEDULE)
    history = rank_history(tmp_path / "adalora")
    assert [e["step"] for e in history] == [6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 34]
    ars_history = rank_history(tmp_path / "ars")
    # the same events and masks; ARS's budget-phase events drew (with p = 0), AdaLoRA's never
    assert [e["sampled"] for e in ars_history] == [True] * 10 + [False]
    assert not any(e["sampled"] for e in history)
    assert [{**e, "sampled": False} for e in ars_history] == history
    assert history[-1]["final"] and history[-1]["kept"] == 6 * 12
    for key in ("test/auc", "test/mcc", "dev/auc", "best_step", "params_at_budget"):
        assert ada[key] == ars[key], key


def test_table_s1_delta_t_never_samples_and_auto_does(short_test_env, tmp_path):
    """prom_tata's Table S1 delta_t (5000) leaves a 60-step run no event: it is AdaLoRA, and
    says so; delta_t=auto spaces auto_events events over the budget phase."""
    run = ["method=ars", "trainer.max_steps=60", "trainer.eval_steps=30"]
    done = run_train(train_args(tmp_path / "s1", *run), short_test_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ARS will never sample" in done.stdout + done.stderr  # Hydra logs to stdout
    metrics = json.loads((tmp_path / "s1" / "metrics.json").read_text())
    assert metrics["sampling_events"] == 0 and metrics["delta_t"] == 5000
    auto = train(short_test_env, tmp_path / "auto", *run, "method.delta_t=auto",
                 "method.auto_events=5")
    assert abs(auto["sampling_events"] - 5) <= 1 and auto["delta_t"] < 60
    assert auto["sampling_events_selected"] <= auto["sampling_events"]  # up to best_step
    sampled = [e for e in rank_history(tmp_path / "auto") if e["sampled"]]
    assert len(sampled) == auto["sampling_events"]


def test_ars_samples_and_is_reproducible(short_test_env, tmp_path):
    args = ["method=ars", "method.p_drop=0.2", "method.p_revive=0.2", *SCHEDULE]
    first = train(short_test_env, tmp_path / "a", *args)
    history = rank_history(tmp_path / "a")
    assert sum(e["dropped"] for e in history) > 0 and sum(e["revived"] for e in history) > 0
    final = history[-1]
    assert final["final"] and final["dropped"] == final["revived"] == 0
    assert final["kept"] == final["budget"] == 6 * 12
    again = train(short_test_env, tmp_path / "b", *args)
    assert rank_history(tmp_path / "b") == history
    assert again["test/auc"] == first["test/auc"]
    per_layer = [first["ranks_per_layer/0"], first["ranks_per_layer/1"]]
    assert first["final_rank_total"] == sum(per_layer) and "ranks_per_layer/2" not in first
    assert all(isinstance(v, int | float | str | None) for v in first.values())  # flat
    assert (tmp_path / "a" / "rank_pattern.png").stat().st_size > 0


def test_ars_resumes_mid_budget_phase_exactly(short_test_env, tmp_path):
    args = ["method=ars", "method.p_drop=0.2", "method.p_revive=0.2", *SCHEDULE]
    train(short_test_env, tmp_path / "reference", *args)
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(train_cmd(run_dir, *args), cwd=REPO, env=short_test_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_marker(run_dir, proc, 20)  # mid budget phase: events at 21..33 still to come
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    train(short_test_env, run_dir, *args)
    assert rank_history(run_dir) == rank_history(tmp_path / "reference")


def test_lingo_prompt_survives_truncation(short_test_env, tmp_path):
    run_dir = tmp_path / "lingo"
    metrics = train(short_test_env, run_dir, "method=lingo", "tokenizer.max_length=48", *SCHEDULE)
    assert metrics["method"] == "lingo" and (run_dir / "rank_history.jsonl").is_file()
    preview = (run_dir / "inputs_preview.txt").read_text()
    blocks = preview.split("--- train input")[1:]
    assert len(blocks) == 3
    for block in blocks:
        header, text = block.split("\n", 1)
        assert "48 tokens" in header
        assert text.startswith("</s>Domain: DNA Promoter\nSequence: ")
        assert text.rstrip("\n").endswith("\nAnnotation:")


def test_lingo_on_a_dna_model_is_refused(short_test_env, tmp_path):
    done = run_train(train_args(tmp_path / "run", "model=tiny_esm", "method=lingo"), short_test_env)
    assert done.returncode == 2
    assert "not applicable to DNA foundation models" in done.stderr
    assert "Traceback" not in done.stderr


def test_allocation_counts_optimizer_steps_under_gradient_accumulation(short_test_env, tmp_path):
    train(short_test_env, tmp_path / "accum", "method=ars", "trainer.grad_accum=2",
          "trainer.batch_size=4", *SCHEDULE)
    assert [e["step"] for e in rank_history(tmp_path / "accum")] == [
        6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 34]


@pytest.mark.parametrize(("tokenizer", "token_length"), [("onehot", 1), ("char", 1), ("kmer", 6)])
def test_lingo_with_each_tokenizer_shows_the_prompt_around_dna_tokens(short_test_env, tmp_path,
                                                                     tokenizer, token_length):
    run_dir = tmp_path / tokenizer
    metrics = train(short_test_env, run_dir, "method=lingo", f"tokenizer={tokenizer}",
                    "trainer.max_steps=6", "trainer.eval_steps=3", "method.delta_t=2")
    assert metrics["tokenizer"] == tokenizer and metrics["status"] == "completed"
    first = (run_dir / "inputs_preview.txt").read_text().split("--- train input")[1]
    text = first.split("\n", 1)[1]
    assert text.startswith("</s>Domain: DNA Promoter\nSequence: ")
    assert text.rstrip("\n").endswith("\nAnnotation:")
    body = text.split("Sequence: ", 1)[1].rsplit("\nAnnotation:", 1)[0]
    tokens = body.split(" ")  # the preview shows the DNA token by token
    assert len(tokens) > 10 and set("".join(tokens)) <= set("ACGTN")
    assert {len(token) for token in tokens} == {token_length}
