"""Classical baselines (model=kmer_lr, model=cnn, method=none): the same entrypoint and run
directory as the language models, on the real data; shuffled labels score chance."""

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from scipy.special import softmax

from lingo.baselines import run_baseline
from lingo.baselines.cnn import DnaCnn, load, one_hot, predict_logits
from lingo.baselines.common import settings
from lingo.baselines.kmer_lr import MODEL_FILE
from lingo.baselines.kmer_lr import predict_logits as lr_logits
from lingo.config import register_configs, validate
from lingo.data import Split, TaskData, load_task
from lingo.data.gue import read_split
from lingo.errors import LingoError, NotRun
from lingo.metrics import classification_metrics
from lingo.predict.cli import main as predict_main
from tests.conftest import REPO, run_train
from tests.training.test_training import REQUIRED, train

FEATURES = {"kmer_lr": "kmer", "cnn": "onehot"}
QUICK_CNN = ["trainer.epochs=2"]  # the CNN's default is up to 10 epochs (minutes on 2 cores)


def compose_cfg(*overrides: str) -> DictConfig:
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


# ------------------------------------------------------------------------- config and refusals


@pytest.mark.parametrize("model", sorted(FEATURES))
def test_a_baseline_composes_with_method_none_and_its_own_input(model):
    cfg = compose_cfg(f"model={model}", "method=none", "task=h3")
    validate(cfg)
    assert cfg.tokenizer.name == FEATURES[model] and cfg.method.name == "none"
    if model == "cnn":  # its own trainer defaults: Adam lr 1e-3, batch 64, up to 10 epochs
        assert (cfg.trainer.lr, cfg.trainer.batch_size, cfg.trainer.epochs) == (1e-3, 64, 10)
    assert compose_cfg("model=tiny_opt").trainer.lr == 3e-5  # language models: unchanged


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=kmer_lr", "method=lora"], "model=kmer_lr is a classical baseline, trained as "
                                           "it is: use method=none"),
        (["model=cnn", "method=lingo"], "use method=none"),
        (["model=tiny_opt", "method=none"], "model=tiny_opt is a language model: use a method"),
        (["model=cnn", "method=none", "tokenizer=bbpe"], "use tokenizer=onehot"),
    ],
)
def test_pairs_that_are_not_a_run_are_refused_with_the_fix(overrides, message):
    with pytest.raises(NotRun) as err:
        validate(compose_cfg(*overrides))
    assert message in str(err.value)


def test_a_refused_pair_exits_2_with_one_error_line(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"},
           "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    done = run_train(["model=kmer_lr", "method=lora", "logger=none",
                      f"hydra.run.dir={tmp_path / 'run'}"], env)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "use method=none" in errors[0]
    assert "Traceback" not in done.stderr


def test_an_unknown_baseline_setting_is_refused():
    cfg = compose_cfg("model=cnn", "method=none", "+model.shape.chanels=[8]")
    with pytest.raises(LingoError, match=r"no setting model\.shape\.chanels"):
        settings(cfg, {"channels": [64]})


# ------------------------------------------------------------------------------ building blocks


def test_one_hot_is_acgt_and_n_is_all_zeros():
    x = one_hot(["ACGTN", "GA"], 6).numpy()
    assert x.shape == (2, 4, 6)
    assert x[0].argmax(axis=0)[:4].tolist() == [0, 1, 2, 3]
    assert x[0][:, 4:].sum() == 0 and x[1][:, 2:].sum() == 0  # N and padding
    assert x.sum(axis=1)[0].tolist() == [1, 1, 1, 1, 0, 0]


def test_the_cnn_trains_multi_label_with_sigmoids(tmp_path):
    """A multi-label task (labels n x L, as DeepSEA's histone marks): BCE, per-label metrics."""
    rng = np.random.default_rng(0)

    def split(name: str, n: int) -> Split:
        seqs = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(n)]
        labels = np.array([[("TATA" in s) or i % 2, i % 3 == 0, "GG" in s]
                           for i, s in enumerate(seqs)], dtype=np.float32)
        return Split(name, seqs, labels, "synthetic")

    data = TaskData(split("train", 64), split("dev", 32), split("test", 32), 3, "train")
    cfg = compose_cfg("model=cnn", "method=none", "task=demo", "trainer.epochs=2",
                      "model.shape.channels=[8,8]", "model.shape.hidden=8")
    result = run_baseline(cfg, data, tmp_path)
    assert set(result["test"]) >= {"auc", "mcc", "accuracy", "f1", "cross_entropy"}
    net, saved = load(tmp_path / "model")
    assert saved["multi_label"] and saved["num_labels"] == 3
    logits = predict_logits(net, data.test.sequences, saved["length"])
    assert logits.shape == (32, 3)
    again = classification_metrics(logits, data.test.labels)
    assert again["auc"] == pytest.approx(result["test"]["auc"])


def test_the_cnn_is_deterministic_with_the_seed(tmp_path):
    cfg = compose_cfg("model=cnn", "method=none", "task=demo", "trainer.epochs=1",
                      "model.shape.channels=[8]", "model.shape.hidden=8")
    data = load_task(cfg.task, cfg.seed)
    data = replace(data, train=data.train.subset(np.arange(200), "train"))
    first = run_baseline(cfg, data, tmp_path / "a")["test"]
    again = run_baseline(cfg, data, tmp_path / "b")["test"]
    assert first == again
    assert isinstance(load(tmp_path / "a" / "model")[0], DnaCnn)


# ------------------------------------------------------------------------- real runs (slow)


TEST_FILES = {"prom_tata": "prom/prom_300_tata/test.csv", "h3": "EMP/H3/test.csv"}


def _test_rows(data_dir: Path, task: str) -> Split:
    return read_split(data_dir / "GUE" / TEST_FILES[task], "test", 2)


def _saved_model_logits(run_dir: Path, model: str, sequences: list[str]) -> np.ndarray:
    if model == "kmer_lr":
        import joblib

        return lr_logits(joblib.load(run_dir / "model" / MODEL_FILE), sequences, 2)
    net, saved = load(run_dir / "model")
    return predict_logits(net, sequences, saved["length"])


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(FEATURES))
@pytest.mark.parametrize("task", ["prom_tata", "h3"])
def test_a_baseline_run_writes_a_complete_run_dir(run_env, data_dir, tmp_path, model, task):
    """prom_tata: the full task; h3: the reduced setup (train on dev, dev carved out). The test
    rows are the test file's, in its order: the saved model reproduces test/auc on them."""
    run_dir = tmp_path / "run"
    reduced = ["task.train_split=dev"] if task == "h3" else []
    metrics = train(run_env, run_dir, f"model={model}", "method=none", f"task={task}",
                    "task.dev_subset=null", *reduced,  # all of dev: its rows are counted
                    *(QUICK_CNN if model == "cnn" else []))
    assert set(metrics) >= REQUIRED | {"steps", "n_train", "n_dev", "n_test", "test/f1",
                                       "test/cross_entropy", "sequence_length", "num_labels"}
    assert metrics["status"] == "completed" and metrics["method"] == "none"
    assert (metrics["model"], metrics["tokenizer"], metrics["task"]) == (model, FEATURES[model],
                                                                        task)
    assert 0 < metrics["trainable_params"] == metrics["total_params"]
    test = _test_rows(data_dir, task)
    assert metrics["n_test"] == len(test) and metrics["num_labels"] == 2
    if task == "h3":
        assert metrics["train_split"] == "dev" and metrics["selection_metric"] == "mcc"
        assert metrics["n_train"] + metrics["n_dev"] == len(test)  # H3's dev and test: same size
    else:
        assert metrics["train_split"] == "train" and metrics["n_train"] == 4904
        assert metrics["test/auc"] > 0.7  # far above chance on the full promoter task
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    best = max(history, key=lambda row: row[f"dev/{metrics['selection_metric']}"])
    assert metrics["best_step"] == best["step"]  # selected on dev
    assert metrics["dev/auc"] == pytest.approx(best["dev/auc"])
    assert ("C" in best) == (model == "kmer_lr")
    logits = _saved_model_logits(run_dir, model, test.sequences)
    again = classification_metrics(logits, test.labels)
    assert again["auc"] == pytest.approx(metrics["test/auc"], abs=1e-6)
    assert again["mcc"] == pytest.approx(metrics["test/mcc"], abs=1e-6)
    saved = np.load(run_dir / "test_predictions.npz")  # for validate's paired intervals
    assert np.array_equal(saved["labels"], test.labels)
    assert np.allclose(saved["logits"], logits, atol=1e-5)
    out = tmp_path / "predicted.csv"  # lingo-predict scores a baseline run as the run did
    assert predict_main(["--run", str(run_dir), "--input", str(data_dir / "GUE" / TEST_FILES[
        task]), "--output", str(out), "--no-progress"]) == 0
    predicted = pd.read_csv(out)
    assert np.allclose(predicted[f"{task}/p1"], softmax(logits, axis=1)[:, 1], atol=1e-5)
    assert (predicted[f"{task}/pred"] == logits.argmax(axis=1)).all()


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(FEATURES))
def test_shuffled_training_labels_score_chance(data_dir, tmp_path, model):
    """Trained on permuted labels, a baseline's test AUC is within the permutation bound of 0.5
    (3.3 standard deviations of the null AUC)."""
    cfg = compose_cfg(f"model={model}", "method=none", "task=prom_tata", f"data_dir={data_dir}",
                      *(QUICK_CNN if model == "cnn" else []))
    data = load_task(cfg.task, cfg.seed)
    shuffled = replace(data.train, labels=np.random.default_rng(7).permutation(data.train.labels))
    result = run_baseline(cfg, replace(data, train=shuffled), tmp_path)
    n1 = int(data.test.labels.sum())
    n0 = len(data.test) - n1
    bound = 3.3 * math.sqrt((n1 + n0 + 1) / (12 * n1 * n0))
    assert abs(result["test"]["auc"] - 0.5) < bound, (result["test"], bound)


@pytest.mark.slow
def test_the_cnn_runs_the_multi_label_histone_task(run_env, data_dir, tmp_path):
    """DeepSEA's 104 histone marks (the 100-sample file here: the reduced setup): sigmoids, BCE,
    selected on the dev cross-entropy (lower is better). k-mer LR refuses a multi-label task."""
    if not (data_dir / "DeepSEA").is_dir():
        pytest.skip("no DeepSEA folder in the data")
    metrics = train(run_env, tmp_path / "run", "model=cnn", "method=none", "task=histone_human",
                    "trainer.epochs=3")
    assert metrics["status"] == "completed" and metrics["num_labels"] == 104
    assert metrics["selection_metric"] == "cross_entropy" and "test/macro_auc" in metrics
    _, saved = load(tmp_path / "run" / "model")
    assert saved["multi_label"] and saved["length"] == metrics["sequence_length"]
    history = [json.loads(line)
               for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    best = min(history, key=lambda row: row["dev/cross_entropy"])
    assert metrics["best_step"] == best["step"]
    done = run_train(["model=kmer_lr", "method=none", "task=histone_human",
                      "logger=none", f"hydra.run.dir={tmp_path / 'lr'}"], run_env)
    assert done.returncode == 2 and "use model=cnn" in done.stderr
