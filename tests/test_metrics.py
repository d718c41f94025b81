"""classification_metrics against scikit-learn computed directly."""

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss, matthews_corrcoef, roc_auc_score

from lingo.metrics import classification_metrics

KEYS = {"auc", "mcc", "accuracy", "f1", "cross_entropy"}


def without_loss(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "cross_entropy"}


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax written out (not scipy's), stabilized by the row maximum."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_binary_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    # Both columns vary, and labels shift the difference so the scores carry some signal.
    logits = rng.normal(size=(200, 2)) + np.stack([np.zeros(200), 0.8 * labels], axis=1)
    probs = probabilities(logits)
    pred = logits.argmax(axis=1)
    got = classification_metrics(logits, labels)
    assert set(got) == KEYS
    assert got["auc"] == pytest.approx(roc_auc_score(labels, probs[:, 1]))
    assert got["mcc"] == pytest.approx(matthews_corrcoef(labels, pred))
    assert got["accuracy"] == pytest.approx(accuracy_score(labels, pred))
    assert got["f1"] == pytest.approx(f1_score(labels, pred))
    assert got["cross_entropy"] == pytest.approx(log_loss(labels, probs))
    # The AUC is on the positive-class probability, not on the raw positive logit alone.
    assert roc_auc_score(labels, logits[:, 1]) != pytest.approx(got["auc"], abs=1e-6)
    assert all(isinstance(v, float) for v in got.values())


def test_binary_float32_logits() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=64)
    logits = rng.normal(size=(64, 2)).astype(np.float32)
    got = classification_metrics(logits, labels)
    probs = probabilities(logits.astype(np.float64))
    assert got["auc"] == pytest.approx(roc_auc_score(labels, probs[:, 1]))


def test_perfect_and_inverted() -> None:
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    onehot = np.eye(2)[labels] * 3.0
    perfect = classification_metrics(onehot, labels)
    assert without_loss(perfect) == {"auc": 1.0, "mcc": 1.0, "accuracy": 1.0, "f1": 1.0}
    # -log of the softmax of a 3-logit margin, derived by hand
    assert perfect["cross_entropy"] == pytest.approx(math.log(1 + math.exp(-3.0)))
    inverted = classification_metrics(np.eye(2)[1 - labels] * 3.0, labels)
    assert inverted["auc"] == 0.0
    assert inverted["mcc"] == pytest.approx(-1.0)
    assert inverted["accuracy"] == 0.0
    assert inverted["f1"] == 0.0


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_auc_is_nan(label: int) -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(20, 2))
    labels = np.full(20, label)
    got = classification_metrics(logits, labels)
    assert math.isnan(got["auc"])
    pred = logits.argmax(axis=1)
    assert got["accuracy"] == pytest.approx(np.mean(pred == label))
    assert not math.isnan(got["mcc"])


def test_multiclass_matches_sklearn() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, size=300)
    logits = rng.normal(size=(300, 3)) + 1.2 * np.eye(3)[labels]
    probs = probabilities(logits)
    pred = logits.argmax(axis=1)
    got = classification_metrics(logits, labels)
    assert set(got) == KEYS
    assert got["auc"] == pytest.approx(
        roc_auc_score(labels, probs, multi_class="ovr", average="macro")
    )
    # Macro one-vs-rest, written out: the mean of the three binary AUCs.
    per_class = [roc_auc_score(labels == c, probs[:, c]) for c in range(3)]
    assert got["auc"] == pytest.approx(np.mean(per_class))
    assert got["mcc"] == pytest.approx(matthews_corrcoef(labels, pred))
    assert got["accuracy"] == pytest.approx(accuracy_score(labels, pred))
    assert got["f1"] == pytest.approx(f1_score(labels, pred, average="macro"))
    assert got["f1"] != pytest.approx(f1_score(labels, pred, average="micro"), abs=1e-9)


def test_multiclass_perfect() -> None:
    labels = np.array([0, 1, 2, 2, 1, 0, 2])
    got = classification_metrics(np.eye(3)[labels] * 2.0, labels)
    assert without_loss(got) == {"auc": 1.0, "mcc": 1.0, "accuracy": 1.0, "f1": 1.0}


def test_multiclass_one_class_auc_is_nan() -> None:
    rng = np.random.default_rng(4)
    got = classification_metrics(rng.normal(size=(10, 3)), np.full(10, 2))
    assert math.isnan(got["auc"])
