"""`make validate` across sittings: which run files git keeps, and how `--precision auto` keeps
arms comparable when they are finished on other days or machines. (Every arm end to end, with
SmolLM2: tests/test_smollm2.py.)"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, load_script

validate = load_script("validate")
RUN = "validation/runs/lingo/seed42-steps300"


def _ignored(path: str) -> bool:
    done = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
    assert done.returncode in (0, 1), "git check-ignore failed: is this a git checkout?"
    return done.returncode == 0


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(),
                    reason="needs git and a checkout")
def test_git_keeps_a_runs_results_and_not_its_checkpoints():
    for name in validate.RESULT_FILES:
        assert not _ignored(f"{RUN}/{name}"), name
    for name in ("checkpoint-100/adapter_model.safetensors", "model/adapter_model.safetensors",
                 "train.log", ".hydra/2026-12-01_10-00-00-000000/config.yaml",
                 "rank_history.jsonl"):
        assert _ignored(f"{RUN}/{name}"), name


def _args(runs: Path, precision: str = "auto") -> object:
    return validate.argparse.Namespace(
        steps=300, eval_every=100, dev_rows=200, lr=3e-4, warmup=0.05, batch_size=8,
        precision=precision, delta_t=10, seed=42, second_seed=False,
        arms=list(validate.ARMS), task="prom_tata", runs=runs, extra=[])


def _finish(runs: Path, arm: str, **metrics: object) -> None:
    run_dir = runs / arm / "seed42-steps300"
    run_dir.mkdir(parents=True)
    (run_dir / validate.METRICS).write_text(json.dumps({"status": "completed", **metrics}))


@pytest.fixture
def bf16_machine(monkeypatch):
    monkeypatch.setattr(validate, "resolve_precision", lambda asked, device: "bf16")


def test_auto_keeps_the_precision_of_the_arms_already_finished(tmp_path, bf16_machine):
    _finish(tmp_path, "lingo", precision="fp32")
    _finish(tmp_path, "kmer_lr")  # a baseline trains no language model: no precision
    precision, why = validate.choose_precision(_args(tmp_path))
    assert precision == "fp32" and "already finished" in why
    assert f"trainer.precision={precision}" in validate.plan(_args(tmp_path, precision))[0][3]


def test_auto_keeps_the_finished_precision_when_running_only_the_missing_arm(tmp_path,
                                                                            bf16_machine):
    for arm in ("lingo", "ars", "random_lingo"):
        _finish(tmp_path, arm, precision="fp32")
    args = _args(tmp_path)
    args.arms = ["lora"]  # `validate.py --arms lora`, the others finished in fp32
    assert validate.choose_precision(args)[0] == "fp32"


def test_auto_asks_the_hardware_when_no_arm_or_arms_disagree(tmp_path, bf16_machine):
    assert validate.choose_precision(_args(tmp_path))[0] == "bf16"
    _finish(tmp_path, "lingo", precision="fp32")
    _finish(tmp_path, "ars", precision="bf16")
    precision, why = validate.choose_precision(_args(tmp_path))
    assert precision == "bf16" and "native on this machine" in why


def test_an_explicit_precision_wins(tmp_path, bf16_machine):
    _finish(tmp_path, "lingo", precision="bf16")
    assert validate.choose_precision(_args(tmp_path, "fp32")) == ("fp32", "asked for")


def _row(arm: str, seed: int, probs: np.ndarray, labels: np.ndarray) -> dict:
    return {"arm": arm, "seed": seed, "probs": probs, "labels": labels,
            "auc": validate.roc_auc_score(labels, probs)}


def test_the_reading_compares_every_seed_both_arms_ran_and_shows_the_seed_spread():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    noisy = {s: np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1) for s in (42, 43)}
    rows = [_row("lingo", 42, noisy[42], labels), _row("lingo", 43, noisy[43], labels),
            _row("random_lingo", 42, rng.random(200), labels),
            _row("random_lingo", 43, rng.random(200), labels),
            _row("kmer_lr", 42, labels * 0.9 + 0.05, labels)]
    lines = validate.reading(rows, 200, 300)
    pretraining = [x for x in lines if x.startswith("- Pretraining (same")]
    assert [", seed 42:" in pretraining[0], ", seed 43:" in pretraining[1]] == [True, True]
    assert all("lingo is better" in x for x in pretraining)  # signal vs none: resolvable
    baseline = [x for x in lines if "6-mer baseline" in x]
    assert len(baseline) == 1 and "kmer_lr is better" in baseline[0]
    spread = [x for x in lines if x.startswith("- Seed to seed, lingo")]
    aucs = [validate.roc_auc_score(labels, noisy[s]) for s in (42, 43)]
    assert spread and f"range {abs(aucs[0] - aucs[1]):.3f}" in spread[0]
    assert "The prompt" in next(x for x in lines if "arm ars missing" in x)
    assert any(x.startswith("- Pretraining, with LoRA: not measured") for x in lines)
