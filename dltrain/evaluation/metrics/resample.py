"""Bootstrap resamples as weights, and what every metric's resampled form shares.

A resample is a vector of draw counts (how often each row was drawn); a metric on a
resample is the sample-weighted metric with those counts as weights, computed for all
resamples of a chunk at once. `Resamples` holds one chunk of weights with the split's
truth and scores, and computes what several metrics share (the weighted confusion counts,
the ROC/PR curves of each class) once per chunk.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

BOOT_CHUNK = 100


def bootstrap_weights(n: int, n_boot: int, seed: int, groups: np.ndarray | None = None):
    """Bootstrap resamples as weights: how often each row is drawn, shape (n_boot, n).

    Rows are drawn with replacement; with `groups`, whole groups (patients) are drawn
    and each row of a drawn group gets the group's count. (Uniform draws counted per
    resample: the same distribution as a multinomial, about 4x faster to sample.)
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        return _counts(rng, n, n_boot)
    _, inverse = np.unique(groups, return_inverse=True)
    n_groups = int(inverse.max()) + 1
    return _counts(rng, n_groups, n_boot)[:, inverse]


def _counts(rng, n: int, n_boot: int) -> np.ndarray:
    drawn = rng.integers(0, n, size=(n_boot, n))
    drawn += np.arange(n_boot)[:, None] * n  # a separate bin range per resample
    return np.bincount(drawn.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype("float64")


def sum_by(weights: np.ndarray, keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Per resample, the total weight of the rows with each key: (B, n) → (B, n_keys)."""
    from scipy import sparse

    onehot = sparse.csr_matrix(
        (np.ones(len(keys)), (np.arange(len(keys)), keys)), shape=(len(keys), n_keys)
    )
    return np.asarray((onehot.T @ weights.T).T)


def ratio(num, den):
    """num / den where den > 0, NaN elsewhere."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


class Ranking:
    """One score vector sorted once (descending), reused by every chunk of resamples."""

    def __init__(self, positive: np.ndarray, s: np.ndarray):
        self.order = np.argsort(-s, kind="stable")
        ranked = s[self.order]
        self.positive = positive[self.order].astype(bool)
        change = np.flatnonzero(ranked[1:] != ranked[:-1]) + 1
        self.starts = np.concatenate([[0], change]) if len(change) < len(s) - 1 else None

    def curves(self, weights: np.ndarray):
        """Per score level (descending, rows) and resample (columns): positive weight,
        negative weight, and the cumulative negative weight up to and including the level.
        Levels run along axis 0, the contiguous one, which numpy accumulates fastest."""
        w = np.take(weights.T, self.order, axis=0)
        pos = w * self.positive[:, None]
        neg = w - pos
        if self.starts is not None:  # tied scores form one level
            pos = np.add.reduceat(pos, self.starts, axis=0)
            neg = np.add.reduceat(neg, self.starts, axis=0)
        return pos, neg, np.add.accumulate(neg, axis=0)


def curve_metrics(weights, ranking: Ranking, wanted) -> dict[str, np.ndarray]:
    """ROC-AUC and/or average precision of every resample, from one pass over the curves."""
    pos, neg, fp = ranking.curves(weights)
    out = {}
    w_neg = fp[-1]
    if "roc_auc" in wanted:  # ties count one half
        w_pos = pos.sum(axis=0)
        # each positive beats the negatives below its level and half of those tied with it
        below = w_pos * w_neg - np.einsum("ij,ij->j", pos, fp)
        pairs = below + 0.5 * np.einsum("ij,ij->j", pos, neg)
        total = w_pos * w_neg
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = pairs / total
        auc[total == 0] = np.nan
        out["roc_auc"] = auc
    if "pr_auc" in wanted:  # step-wise, as scikit-learn's average_precision_score
        del neg
        tp = np.add.accumulate(pos, axis=0)
        seen = tp + fp
        # in place: where nothing is seen yet, seen is 0 and stays the precision 0
        precision = np.divide(tp, seen, out=seen, where=seen > 0)
        w_pos = tp[-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            ap = np.einsum("ij,ij->j", pos, precision) / w_pos
        ap[w_pos == 0] = np.nan
        out["pr_auc"] = ap
    return out


class Resamples:
    """One chunk of bootstrap weights (B, n) on one split's truth and scores.

    Args:
        task: the `dltrain.tasks.Task`.
        y: truth (class indices, a 0/1 matrix, or values).
        scores: probabilities, values or reconstruction errors.
        weights: (B, n) draw counts.
        n_classes: classes of the task (2 for binary).
        threshold: the frozen decision threshold (binary, multilabel).
        rankings: a dict kept across chunks of the same split: each score vector is
            sorted once. Defaults to None (sorted again for every chunk).
        wanted: the metrics asked for (curves are computed only when one needs them).
    """

    def __init__(self, task, y, scores, weights, n_classes, threshold, rankings=None, wanted=()):
        self.task, self.y, self.scores, self.weights = task, y, scores, weights
        self.n_classes, self.threshold = n_classes, threshold
        self.rankings = {} if rankings is None else rankings
        self.wanted = set(wanted)
        self.total = weights.sum(axis=1)
        self._curves: dict = {}

    def ranking(self, key, positive, s) -> Ranking:
        if key not in self.rankings:
            self.rankings[key] = Ranking(positive, s)
        return self.rankings[key]

    def mean(self, values: np.ndarray) -> np.ndarray:
        """The weighted mean of per-row values, per resample."""
        return (self.weights * values).sum(axis=1) / self.total

    # --- classes (binary, multiclass) ---------------------------------------------------

    @cached_property
    def confusion(self) -> np.ndarray:
        """(B, C, C) weighted confusion counts: rows true class, columns predicted."""
        c = self.n_classes
        pred = self.task.decisions(self.scores, self.threshold)
        keys = self.y.astype("int64") * c + pred
        return sum_by(self.weights, keys, c * c).reshape(-1, c, c)

    @cached_property
    def tp(self) -> np.ndarray:
        return np.diagonal(self.confusion, axis1=1, axis2=2)

    @cached_property
    def support(self) -> np.ndarray:
        return self.confusion.sum(axis=2)

    @cached_property
    def predicted(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @cached_property
    def tn(self) -> np.ndarray:
        return self.total[:, None] - self.support - self.predicted + self.tp

    @cached_property
    def onehot(self) -> np.ndarray:
        return np.eye(self.n_classes)[self.y.astype("int64")]

    def roc_auc_of(self, key, positive: np.ndarray, s: np.ndarray) -> np.ndarray:
        """ROC-AUC per resample of scores `s` for the 0/1 `positive` (sorted once per key)."""
        return curve_metrics(self.weights, self.ranking(key, positive, s), {"roc_auc"})["roc_auc"]

    def curve(self, name: str) -> np.ndarray:
        """ROC-AUC or PR-AUC per resample: of the positive class (binary), or the mean over
        the classes one-vs-rest (multiclass); both come from one pass over each curve."""
        binary = self.task.name == "binary"
        keys = [1] if binary else range(self.n_classes)
        wanted = {"roc_auc", "pr_auc"} & (self.wanted or {name})
        for k in keys:
            if k not in self._curves:
                positive = self.onehot[:, 1] if binary else self.onehot[:, k]
                scores = self.scores if binary else self.scores[:, k]
                rank = self.ranking(k, positive, scores)
                self._curves[k] = curve_metrics(self.weights, rank, wanted)
        return np.mean([self._curves[k][name] for k in keys], axis=0)
