"""Classification metrics (scikit-learn), with one rule everywhere: AUC on the positive-class
probability, MCC / accuracy / F1 on the argmax prediction.

Multi-label tasks (labels n x L, DeepSEA's histone marks) use one sigmoid per label: AUC and
AUPRC per label, their macro means over the labels whose split holds both classes (the others
are missing: counted in ``missing_labels``, left out of the means, never scored 0.5); MCC and
accuracy over all (row, label) pairs at probability 0.5 (micro), F1 the macro mean over
labels at 0.5 (a label without positives counts 0), cross-entropy the mean binary one."""

import math

import numpy as np
from scipy.special import expit, softmax
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    log_loss,
    matthews_corrcoef,
    roc_auc_score,
)

LOWER_IS_BETTER = frozenset({"cross_entropy"})  # a selection metric to minimise


def greater_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    if np.ndim(labels) == 2:
        return multilabel_metrics(logits, labels)
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


def multilabel_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Scalars of a multi-label prediction: ``auc`` is ``macro_auc`` (so tables keep working)."""
    probs = expit(np.asarray(logits, dtype=np.float64))
    labels = np.asarray(labels).astype(np.int64)
    per_label = per_label_metrics(logits, labels)
    pred = (probs >= 0.5).astype(np.int64)
    auc = _mean_present(per_label["auc_per_label"])
    return {
        "auc": auc,
        "macro_auc": auc,
        "macro_auprc": _mean_present(per_label["auprc_per_label"]),
        "missing_labels": int(sum(v is None for v in per_label["auc_per_label"])),
        "mcc": float(matthews_corrcoef(labels.ravel(), pred.ravel())),
        "accuracy": float((pred == labels).mean()),
        "f1": float(f1_score(labels, pred, average="macro", zero_division=0)),
        "cross_entropy": float(log_loss(labels.ravel(), probs.ravel(), labels=[0, 1])),
    }


def per_label_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, list[float | None]]:
    """AUC and AUPRC of each label; None where the split holds one class of it."""
    probs = expit(np.asarray(logits, dtype=np.float64))
    labels = np.asarray(labels).astype(np.int64)
    auc: list[float | None] = []
    auprc: list[float | None] = []
    for j in range(labels.shape[1]):
        if len(np.unique(labels[:, j])) < 2:
            auc.append(None)
            auprc.append(None)
            continue
        auc.append(float(roc_auc_score(labels[:, j], probs[:, j])))
        auprc.append(float(average_precision_score(labels[:, j], probs[:, j])))
    return {"auc_per_label": auc, "auprc_per_label": auprc}


def _mean_present(values: list[float | None]) -> float:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else math.nan
