"""``model=kmer_lr``: logistic regression on k-mer frequencies.

Features: the count of every overlapping k-mer of the sequence (k = ``tokenizer.k``, default 6;
the tokenizer's stride is for language-model tokens and does not apply), divided by the
sequence's number of k-mers, each feature then scaled to unit variance on train. The
regularisation C is chosen on the selection split from ``model.shape.c_grid``: one fit per C,
each a line of ``history.jsonl`` (step = its position in the grid), no refit. The fitted
pipeline is saved as ``model/kmer_lr.joblib`` (``predict_logits`` scores new sequences).
"""

import logging
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from omegaconf import DictConfig
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler

from lingo.baselines.common import better, selection, settings
from lingo.data import TaskData
from lingo.errors import NotRun
from lingo.metrics import classification_metrics as scores
from lingo.results import HISTORY, TEST_PREDICTIONS, save_predictions, write_jsonl

log = logging.getLogger(__name__)

DEFAULTS = {"c_grid": [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.1, 1.0], "max_iter": 2000}
MODEL_FILE = "kmer_lr.joblib"


def features(k: int) -> Pipeline:
    """Sequences -> scaled k-mer frequencies (unfitted)."""
    return make_pipeline(
        CountVectorizer(analyzer="char", ngram_range=(k, k), lowercase=False, dtype=np.float64),
        Normalizer(norm="l1"),
        StandardScaler(with_mean=False),  # keeps the matrix sparse
    )


def predict_logits(model: Pipeline, sequences: list[str], num_labels: int) -> np.ndarray:
    """Logits per label of a saved model (a softmax of them is its probabilities)."""
    return _logits(model[-1], model[:-1].transform(sequences), num_labels)


def _logits(clf: LogisticRegression, x, num_labels: int) -> np.ndarray:
    """Decision scores whose softmax is ``predict_proba`` (binary: [0, d]); a column for every
    label, also one the training split lacked (probability 0)."""
    decision = clf.decision_function(x)
    if decision.ndim == 1:
        decision = np.column_stack([np.zeros_like(decision), decision])
    logits = np.full((x.shape[0], num_labels), -np.inf)
    logits[:, clf.classes_] = decision
    return logits


def train(cfg: DictConfig, data: TaskData, run_dir: Path) -> dict[str, Any]:
    if data.multi_label:
        raise NotRun(f"model=kmer_lr is single-label and task={cfg.task.name} is multi-label: "
                     "use model=cnn")
    options = settings(cfg, DEFAULTS)
    split_name, select_on = selection(cfg, data)
    metric = cfg.task.selection_metric
    started = time.monotonic()
    featurize = features(cfg.tokenizer.k)
    x_train = featurize.fit_transform(data.train.sequences)
    x_select = featurize.transform(select_on.sequences)
    rows, best, chosen = [], None, None
    for step, c in enumerate(options["c_grid"], start=1):
        clf = LogisticRegression(C=float(c), max_iter=int(options["max_iter"]),
                                 random_state=cfg.seed)
        clf.fit(x_train, data.train.labels)
        found = scores(_logits(clf, x_select, data.num_labels), select_on.labels)
        train_loss = scores(_logits(clf, x_train, data.num_labels),
                            data.train.labels)["cross_entropy"]
        rows.append({"step": step, "C": float(c), "train_loss": train_loss,
                     **{f"{split_name}/{k}": v for k, v in found.items()}})
        write_jsonl(run_dir / HISTORY, rows)
        log.info("C=%g: %s/%s=%.4f", c, split_name, metric, found[metric])
        if better(found[metric], best, metric):
            best, chosen = found[metric], (step, clf, found)
    train_seconds = time.monotonic() - started
    if chosen is None:
        raise NotRun(f"no C of {options['c_grid']} gave a defined {split_name}/{metric}")
    step, clf, found = chosen
    dev = found if split_name == "dev" else scores(
        _logits(clf, featurize.transform(data.dev.sequences), data.num_labels), data.dev.labels)
    log.info("chosen C=%g (history step %d)", clf.C, step)
    model = make_pipeline(*(s for _, s in featurize.steps), clf)  # features fitted on train
    test_logits = predict_logits(model, data.test.sequences, data.num_labels)
    test = scores(test_logits, data.test.labels)
    save_predictions(run_dir / TEST_PREDICTIONS, test_logits, data.test.labels)
    (run_dir / "model").mkdir(parents=True, exist_ok=True)
    joblib.dump(model, run_dir / "model" / MODEL_FILE)
    params = int(clf.coef_.size + clf.intercept_.size)
    return {"test": test, "dev": dev, "best_step": step, "steps": len(rows), "world_size": 1,
            "trainable_params": params, "total_params": params,
            "train_seconds": round(train_seconds, 2)}
