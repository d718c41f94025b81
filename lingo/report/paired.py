"""Paired comparisons of two arms on the same rows: a bootstrap over the rows, shared by every
seed both arms ran, so that an interval covers test-set sampling and the seed spread is shown
beside it (``make validate``'s reading rests on these)."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax, softmax
from scipy.stats import rankdata


def positive_probability(logits: np.ndarray) -> np.ndarray:
    """P(class 1) of a binary classifier's logits (n x 2)."""
    return softmax(np.asarray(logits, dtype=np.float64), axis=-1)[:, 1]


def row_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each row's cross-entropy in nats (its mean is the split's ``cross_entropy``)."""
    logp = log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    return -logp[np.arange(len(labels)), np.asarray(labels, dtype=int)]


def auc_rows(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of a (draws x rows) matrix, as the Mann-Whitney U over the product
    of the class sizes (ties count half, as in roc_auc_score): vectorised over the draws."""
    labels, scores = np.atleast_2d(labels), np.atleast_2d(scores)
    positives = labels.sum(axis=1)
    negatives = labels.shape[1] - positives
    rank_sum = (rankdata(scores, axis=1) * labels).sum(axis=1)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def mcc_rows(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Matthews correlation of each row at P(class 1) >= 0.5 (= the argmax of two classes),
    from its confusion counts; 0 where a count is 0 on a whole margin, as in scikit-learn."""
    labels, pred = np.atleast_2d(labels).astype(bool), np.atleast_2d(probs) >= 0.5
    tp, tn = (pred & labels).sum(axis=1), (~pred & ~labels).sum(axis=1)
    fp, fn = (pred & ~labels).sum(axis=1), (~pred & labels).sum(axis=1)
    margin = np.sqrt(((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)).astype(np.float64))
    return np.divide(tp * tn - fp * fn, margin, out=np.zeros(len(tp)), where=margin > 0)


def mean_rows(labels: np.ndarray, losses: np.ndarray) -> np.ndarray:
    return np.atleast_2d(losses).mean(axis=1)


# metric name -> (its value on each row of (draws x rows) matrices; whether higher is better)
METRICS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], bool]] = {
    "auc": (auc_rows, True),
    "mcc": (mcc_rows, True),
    "cross_entropy": (mean_rows, False),
}


def resamples(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` bootstrap draws of row indices (draws x rows), those with one class left out (AUC
    needs both)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(labels), (n, len(labels)))
    classes = labels[draws]
    return draws[(classes.min(axis=1) != classes.max(axis=1))]


def interval(values: np.ndarray, labels: np.ndarray, n: int, metric: str = "auc") -> tuple:
    """(point, low, high): the metric and its percentile 95% bootstrap interval."""
    score = METRICS[metric][0]
    draws = resamples(labels, n)
    boot = score(labels[draws], values[draws])
    return float(score(labels, values)[0]), *np.percentile(boot, [2.5, 97.5])


@dataclass
class Difference:
    """metric(a) - metric(b): per seed (point, low, high), and the mean over the seeds with an
    interval from resampling the rows jointly for every seed."""

    metric: str
    per_seed: dict[int, tuple[float, float, float]]
    mean: float
    low: float
    high: float

    @property
    def spread(self) -> float:
        points = [p for p, _, _ in self.per_seed.values()]
        return max(points) - min(points)

    def verdict(self, a: str, b: str) -> str:
        """Which arm is better, in words: only when the interval excludes 0 and every seed
        agrees; otherwise what this budget cannot resolve."""
        higher = METRICS[self.metric][1]
        if self.low <= 0 <= self.high:
            return "not resolved: the interval includes 0"
        winner = a if (self.low > 0) == higher else b
        signs = {np.sign(p) for p, _, _ in self.per_seed.values()}
        if len(signs) > 1:
            return (f"the mean favours {winner}, but the seeds disagree in sign: not resolved "
                    "at this budget")
        seeds = "every seed" if len(self.per_seed) > 1 else "one seed only"
        return f"{winner} is better (the interval excludes 0; {seeds})"


def paired_difference(a: dict[int, np.ndarray], b: dict[int, np.ndarray], labels: np.ndarray,
                      n: int, metric: str = "auc") -> Difference | None:
    """Compare per-row scores (probabilities for AUC, losses for cross-entropy) of arms a and b
    on the seeds both ran; None when there is none."""
    seeds = sorted(a.keys() & b.keys())
    if not seeds:
        return None
    score = METRICS[metric][0]

    def diffs(rows: np.ndarray) -> np.ndarray:
        """(draws x seeds) differences on the drawn rows, the same rows for every seed."""
        return np.stack([score(labels[rows], a[s][rows]) - score(labels[rows], b[s][rows])
                         for s in seeds], axis=1)

    boot = diffs(resamples(labels, n, seed=1))
    points = [float(x) for x in diffs(np.arange(len(labels))[None, :])[0]]
    per_seed = {s: (points[k], *np.percentile(boot[:, k], [2.5, 97.5]))
                for k, s in enumerate(seeds)}
    return Difference(metric, per_seed, float(np.mean(points)),
                      *np.percentile(boot.mean(axis=1), [2.5, 97.5]))
