"""`make validate` v2 (scripts/validate.py): the learning-rate choice, the precision gate, the
reading of each claim against the probe, and which run files git keeps; on synthetic run
directories of known predictions. (End to end on a tiny model: the slow test at the end.)"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lingo.results import DEV_PREDICTIONS, DYNAMICS, METRICS, TEST_PREDICTIONS, write_json
from tests.conftest import REPO, load_script

validate = load_script("validate")
LABELS = np.repeat([0, 1], 150)


def _ignored(path: str) -> bool:
    done = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
    assert done.returncode in (0, 1), "git check-ignore failed: is this a git checkout?"
    return done.returncode == 0


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(),
                    reason="needs git and a checkout")
def test_git_keeps_a_runs_results_and_not_its_checkpoints():
    for run in ("validation/runs/main/lingo/seed42", "validation/runs/lr/svd@0.003/seed42"):
        for name in validate.RESULT_FILES:
            assert not _ignored(f"{run}/{name}"), name
        for name in ("checkpoints/checkpoint-100/adapter_model.safetensors",
                     "model/adapter_model.safetensors", "train.log",
                     ".hydra/2026-12-01_10-00-00-000000/config.yaml", "rank_history.jsonl"):
            assert _ignored(f"{run}/{name}"), name


def _logits(p_positive: np.ndarray) -> np.ndarray:
    p = np.clip(p_positive, 1e-6, 1 - 1e-6)
    return np.stack([np.log1p(-p), np.log(p)], axis=1)


def _finish(run, p_test: np.ndarray, p_dev: np.ndarray | None = None, delta_w: float = 1.0,
            **metrics) -> None:
    """A finished run directory of known predictions."""
    p_dev = p_test if p_dev is None else p_dev
    losses = -np.log(np.where(LABELS == 1, p_dev, 1 - p_dev))
    write_json(run.run_dir / METRICS, {"status": "completed", "precision": "bf16", "steps": 10,
                                       "dev/cross_entropy": float(losses.mean()),
                                       "test/cross_entropy": 0.5, **metrics})
    for name, p in ((TEST_PREDICTIONS, p_test), (DEV_PREDICTIONS, p_dev)):
        np.savez(run.run_dir / name, logits=_logits(p), labels=LABELS)
    (run.run_dir / DYNAMICS).write_text(json.dumps({"step": 10, "delta_w": delta_w}) + "\n")


def _informative(strength: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(0.5 + strength * (LABELS - 0.5) + rng.normal(0, 0.2, len(LABELS)), 0.01, 0.99)


def _args(tmp_path: Path, *extra: str):
    return validate.parse(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
                           "--bootstrap", "300", *extra])


def test_the_lowest_dev_loss_wins_and_a_lower_rate_wins_a_tie(tmp_path):
    args = _args(tmp_path)
    runs = validate.lr_runs(args)
    by = {(r.family, r.rate): r for r in runs}
    # LoRA: 3e-4 clearly best. SVD: 1e-2 best by a hair over 3e-3 (a tie), 1e-3 clearly worse
    for (family, rate), strength in {("lora", 1e-4): 0.1, ("lora", 3e-4): 0.6,
                                     ("lora", 1e-3): 0.2, ("svd", 1e-3): 0.1}.items():
        _finish(by[family, rate], _informative(strength, 1))
    close = _informative(0.5, 1)
    nudged = close + np.random.default_rng(5).normal(0, 0.03, len(LABELS)) + 0.004 * (
        LABELS - 0.5)
    _finish(by["svd", 3e-3], close)
    _finish(by["svd", 1e-2], np.clip(nudged, 0.01, 0.99))
    loaded = [validate.load(r) for r in runs]
    dev_loss = {(r.family, r.rate): r.result["metrics"]["dev/cross_entropy"] for r in loaded}
    assert dev_loss["svd", 1e-2] < dev_loss["svd", 3e-3]  # the case this test is about
    rates, notes = validate.choose_rates(loaded, 300)
    assert rates == {"lora": 3e-4, "svd": 3e-3}
    assert "lowest dev cross-entropy" in notes[0]
    assert "a tie with 0.01" in notes[1] and "the lower rate" in notes[1]
    # overrides as the issue asks: each family's method, the head at the fixed rate, all dev
    lora = by["lora", 1e-4].overrides
    assert "method=lora" in lora and "trainer.lr=0.0001" in lora
    assert "trainer.head_lr=0.0003" in lora and "task.dev_subset=null" in lora
    assert "method.delta_t=auto" in by["svd", 1e-3].overrides


def test_unfinished_rates_choose_nothing_and_main_arms_wait_for_them(tmp_path, monkeypatch):
    args = _args(tmp_path)
    rates, notes = validate.choose_rates([validate.load(r) or r for r in validate.lr_runs(args)],
                                         100)
    assert rates == {"lora": None, "svd": None} and "0 of 3 rates" in notes[0]
    monkeypatch.setattr(sys, "argv", ["validate.py", "--runs", str(tmp_path / "runs"), "--out",
                                      str(tmp_path / "out"), "--phase", "main", "--arms",
                                      "lora"])
    with pytest.raises(SystemExit, match="need phase lr's rates"):
        validate.main()


def test_language_model_arms_are_refused_where_bf16_is_emulated(tmp_path, monkeypatch):
    monkeypatch.setattr(validate, "native_bf16", lambda device: False)
    args = _args(tmp_path)
    rates = {"lora": 3e-4, "svd": 3e-3}
    with pytest.raises(SystemExit, match="only emulates"):
        validate.check_precision(args, validate.main_runs(args, rates, ["lora"]))
    validate.check_precision(args, validate.main_runs(args, rates, ["kmer_lr", "cnn"]))
    smoke = _args(tmp_path, "--precision", "fp32")
    validate.check_precision(smoke, validate.main_runs(smoke, rates, ["lora"]))
    cnn = validate.main_runs(args, rates, ["cnn"])[0].overrides
    assert not any(o.startswith(("trainer.batch_size", "trainer.precision")) for o in cnn)


def _main(tmp_path: Path, strengths: dict[str, float], delta_w: dict[str, float]) -> list:
    args = _args(tmp_path)
    runs = validate.main_runs(args, {"lora": 3e-4, "svd": 3e-3})
    for run in runs:
        if run.arm in strengths:
            _finish(run, _informative(strengths[run.arm], run.seed),
                    delta_w=delta_w.get(run.arm, 1.0),
                    **({"test/cross_entropy": 0.68} if delta_w.get(run.arm, 1) < 0.1 else {}))
    return [validate.load(r) or r for r in runs]


def test_the_reading_voids_claims_on_arms_that_did_not_train(tmp_path):
    strengths = {"lora": 0.6, "ars": 0.05, "lingo": 0.05, "adalora": 0.05, "probe": 0.05,
                 "cnn": 0.8, "random_lora": 0.3}
    runs = _main(tmp_path, strengths, {"lora": 1.5, "ars": 0.05, "lingo": 0.05,
                                       "adalora": 0.05})
    text = validate.report(_args(tmp_path), validate.lr_runs(_args(tmp_path)), runs, [])
    lines = text.splitlines()
    ars = next(x for x in lines if x.startswith("- ars: "))
    assert "has not adapted" in ars and "does not meet the training bar" in ars
    lora = next(x for x in lines if x.startswith("- lora: "))
    assert "adapted" in lora and "not adapted" not in lora
    main_claim = next(x for x in lines if "the paper's main claim" in x)
    assert "lora is better" in main_claim and "Void as a test of the claim: lingo" in main_claim
    assert "seed 42" in main_claim and "seed 43" in main_claim and "seed spread" in main_claim
    pretraining = next(x for x in lines if "Language pretraining, with LoRA" in x)
    assert "lora is better" in pretraining and "Void" not in pretraining
    assert "not measured yet" in next(x for x in lines if "with Lingo" in x)
    assert "cnn is better" in next(x for x in lines if x.startswith("- lora vs the CNN"))
    assert "**Not run yet**" in text and "random_lingo seed 42" in text


def test_random_init_arms_are_read_against_the_random_probe(tmp_path):
    """A random-init arm below the pretrained probe has still trained when it is above the
    random-init probe: the pretraining claims are not voided by the wrong floor."""
    runs = _main(tmp_path, {"lora": 0.6, "probe": 0.4, "random_lora": 0.2,
                            "random_probe": 0.02}, {})
    text = validate.report(_args(tmp_path), validate.lr_runs(_args(tmp_path)), runs, [])
    random_lora = next(x for x in text.splitlines() if x.startswith("- random_lora: "))
    assert "AUC − random_probe" in random_lora and "not adapted" not in random_lora
    pretraining = next(x for x in text.splitlines() if "Language pretraining, with LoRA" in x)
    assert "lora is better" in pretraining and "Void" not in pretraining


def test_a_finished_run_made_with_other_settings_is_not_reused(tmp_path, capsys):
    args = _args(tmp_path)
    [run] = validate.main_runs(args, {"lora": 3e-4}, ["lora"])[:1]
    _finish(run, _informative(0.5, 1))
    write_json(run.run_dir / validate.WALL, {"overrides": validate._settings(run)})
    validate.train([run])
    assert "done already" in capsys.readouterr().out
    [other] = validate.main_runs(args, {"lora": 1e-3}, ["lora"])[:1]
    assert other.run_dir == run.run_dir
    with pytest.raises(SystemExit, match=re.escape("trainer.lr=0.0003, trainer.lr=0.001")):
        validate.train([other])


def test_a_claim_the_seeds_disagree_on_is_not_resolved():
    labels = LABELS
    a = {42: _informative(0.5, 1), 43: _informative(0.3, 2)}
    b = {42: _informative(0.3, 3), 43: _informative(0.5, 4)}
    d = validate.paired_difference(a, b, labels, 300)
    assert {np.sign(p) for p, _, _ in d.per_seed.values()} == {1.0, -1.0}
    assert "not resolved" in d.verdict("a", "b")
    assert d.spread == pytest.approx(abs(d.per_seed[42][0] - d.per_seed[43][0]))


@pytest.mark.slow
def test_validate_runs_both_phases_end_to_end_on_a_tiny_model(run_env, tiny_promoters,
                                                              tmp_path):
    """The machinery (phase lr, the rates, phase main with sampling, the probe and the CNN, the
    report and figures, resuming) with tiny_opt in fp32 on 16 rows per split of prom_300_tata."""
    task = tiny_promoters
    command = [sys.executable, str(REPO / "scripts" / "validate.py"), "--model", "tiny_opt",
               "--precision", "fp32", "--lr-steps", "6", "--epochs", "3", "--seeds", "42",
               "--arms", "ars", "probe", "cnn", "--bootstrap", "50", "--task", "gue_folder",
               "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
               "--extra", f"task.path={task}", "trainer.eval_steps=2"]
    done = subprocess.run(command, env=run_env, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    results = (tmp_path / "out" / "results.md").read_text()
    first_cells = [line.split("|")[1].strip() for line in results.splitlines()
                   if line.startswith("|")]  # each table row's first cell
    assert first_cells.count("lora") == 3 and first_cells.count("svd") == 3
    for arm in ("ars", "probe", "cnn"):
        assert any(cell.startswith(f"{arm}: ") for cell in first_cells)
    ars = json.loads((tmp_path / "runs" / "main" / "ars" / "seed42" / METRICS).read_text())
    assert ars["precision"] == "fp32" and ars["sampling_events"] >= 1
    assert "Not version 2's protocol" in results and "- ars: " in results
    for figure in ("delta_w.png", "curves.png"):
        assert (tmp_path / "out" / figure).stat().st_size > 0
    again = subprocess.run(command, env=run_env, capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 0 and again.stdout.count("done already") == 6 + 3


def test_the_vectorised_auc_and_mcc_are_sklearns():
    from sklearn.metrics import matthews_corrcoef, roc_auc_score

    from lingo.report.paired import auc_rows, mcc_rows, resamples

    rng = np.random.default_rng(0)
    scores = np.round(rng.random(len(LABELS)), 2)  # ties included
    draws = resamples(LABELS, 20)
    expected = [roc_auc_score(LABELS[i], scores[i]) for i in draws]
    assert auc_rows(LABELS[draws], scores[draws]) == pytest.approx(expected, abs=1e-12)
    expected = [matthews_corrcoef(LABELS[i], scores[i] >= 0.5) for i in draws]
    assert mcc_rows(LABELS[draws], scores[draws]) == pytest.approx(expected, abs=1e-12)
    assert mcc_rows(LABELS, np.ones(len(LABELS)))[0] == 0.0  # one predicted class
