"""Classification metrics (scikit-learn), with one rule everywhere: AUC on the positive-class
probability, MCC / accuracy / F1 on the argmax prediction."""

import math

import numpy as np
from scipy.special import softmax
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    matthews_corrcoef,
    roc_auc_score,
)


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    probs = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    labels = np.asarray(labels)
    pred = probs.argmax(axis=-1)
    binary = probs.shape[1] == 2
    return {
        "auc": _auc(labels, probs[:, 1] if binary else probs),
        "mcc": float(matthews_corrcoef(labels, pred)),
        "accuracy": float(accuracy_score(labels, pred)),
        "f1": float(f1_score(labels, pred, average="binary" if binary else "macro")),
        # the model's own loss can include a regulariser (AdaLoRA's orthogonality term)
        "cross_entropy": float(log_loss(labels, probs, labels=range(probs.shape[1]))),
    }


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """NaN when undefined (one class only): it is reported as missing, never as 0.5."""
    if len(np.unique(labels)) < 2:
        return math.nan
    if scores.ndim == 1:
        return float(roc_auc_score(labels, scores))
    return float(roc_auc_score(labels, scores, multi_class="ovr", labels=range(scores.shape[1])))
