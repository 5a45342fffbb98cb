"""Calibration as clinical prediction papers report it, point and bootstrap forms.

- `calibration_intercept`, calibration-in-the-large: the intercept `a` of the logistic
  recalibration model ``logit P(y=1) = a + logit(p)`` (the slope fixed at 1, logit(p) an
  offset). 0 means the predicted risks are right on average; a > 0 means they are too low
  (the outcome is more frequent than predicted), a < 0 too high.
- `calibration_slope`: ``b`` in ``logit P(y=1) = a + b·logit(p)``. 1 is ideal; b < 1 means
  the predictions are too extreme (typical of overfitting), b > 1 too modest.
  (Van Calster et al., J Clin Epidemiol 2016;74:167 and BMC Med 2019;17:230; Steyerberg,
  Clinical Prediction Models, 2nd ed., ch. 15.)
- `ece`, the expected calibration error: predictions in 10 equal-width bins of probability;
  the weighted mean over bins of |mean predicted − observed share|. Binary: on P(positive),
  the probability the calibration plot shows; multiclass: top-label (Guo et al., ICML 2017:
  the probability of the predicted class against whether it was right).

Probabilities are clipped to [1e-6, 1 − 1e-6] before the logit. Both logistic fits are
maximum likelihood by Newton's method, with the bootstrap's draw counts as weights; the
slope is undefined (NaN, left out of the interval) when the outcome is separated by the
predictions (every positive above every negative: the likelihood has no maximum) or the
predictions are constant, and the intercept when only one class is present.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-6
ECE_BINS = 10
STEPS = 100
TOLERANCE = 1e-12
MAX_STEP = 5.0


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype="float64"), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))  # overflow-free


def intercepts(y: np.ndarray, lp: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Calibration-in-the-large of each row of `weights` (B, n): the ML intercept with lp as
    an offset, by Newton's method (the log-likelihood is concave in one parameter)."""
    y = y.astype("float64")
    a = np.zeros(len(weights))
    for _ in range(STEPS):
        mu = _sigmoid(a[:, None] + lp[None, :])
        gradient = (weights * (y - mu)).sum(axis=1)
        curvature = (weights * mu * (1 - mu)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.clip(gradient / curvature, -MAX_STEP, MAX_STEP)
        a = a + np.nan_to_num(step)
        if np.all(np.abs(np.nan_to_num(step)) < TOLERANCE):
            break
    positives = (weights * y).sum(axis=1)
    negatives = (weights * (1 - y)).sum(axis=1)
    return np.where((positives > 0) & (negatives > 0), a, np.nan)


def slopes(y: np.ndarray, lp: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The calibration slope of each row of `weights` (B, n): the ML logistic regression of y
    on lp (intercept and slope) by Newton's method, NaN where the maximum does not exist."""
    y = y.astype("float64")
    a, b = np.zeros(len(weights)), np.ones(len(weights))
    for _ in range(STEPS):
        mu = _sigmoid(a[:, None] + b[:, None] * lp[None, :])
        r, v = weights * (y - mu), weights * mu * (1 - mu)
        g0, g1 = r.sum(axis=1), (r * lp).sum(axis=1)
        h00, h01, h11 = v.sum(axis=1), (v * lp).sum(axis=1), (v * lp * lp).sum(axis=1)
        det = h00 * h11 - h01 * h01
        with np.errstate(invalid="ignore", divide="ignore"):
            da = np.nan_to_num((h11 * g0 - h01 * g1) / det)
            db = np.nan_to_num((h00 * g1 - h01 * g0) / det)
        scale = np.maximum(1.0, np.maximum(np.abs(da), np.abs(db)) / MAX_STEP)
        a, b = a + da / scale, b + db / scale
        if np.all(np.maximum(np.abs(da), np.abs(db)) < TOLERANCE):
            break
    return np.where(_estimable(y, lp, weights), b, np.nan)


def _estimable(y: np.ndarray, lp: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per resample: both classes present, lp not constant, and no separation of the classes
    by lp (every drawn positive above every drawn negative, or below: no finite maximum)."""
    drawn = weights > 0
    pos, neg = drawn & (y[None, :] > 0.5), drawn & (y[None, :] <= 0.5)
    top_pos = np.where(pos, lp, -np.inf).max(axis=1)
    low_pos = np.where(pos, lp, np.inf).min(axis=1)
    top_neg = np.where(neg, lp, -np.inf).max(axis=1)
    low_neg = np.where(neg, lp, np.inf).min(axis=1)
    both = pos.any(axis=1) & neg.any(axis=1)
    varies = np.where(drawn, lp, -np.inf).max(axis=1) > np.where(drawn, lp, np.inf).min(axis=1)
    separated = (top_neg <= low_pos) | (top_pos <= low_neg)
    return both & varies & ~separated


def ece_parts(y: np.ndarray, scores: np.ndarray, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """(bin of each row, predicted − observed of each row) for the ECE.

    Binary: P(positive) against the outcome; multiclass: the top-label probability against
    whether the top label is right.
    """
    if binary:
        p, hit = np.asarray(scores, dtype="float64"), np.asarray(y, dtype="float64")
    else:
        p = np.max(scores, axis=1).astype("float64")
        hit = (np.argmax(scores, axis=1) == y).astype("float64")
    bins = np.minimum((p * ECE_BINS).astype("int64"), ECE_BINS - 1)
    return np.clip(bins, 0, ECE_BINS - 1), p - hit


def ece_point(y, scores, binary: bool, w=None) -> float:
    """The ECE of one split (`w`: sample weights, None for every row once)."""
    bins, gap = ece_parts(y, scores, binary)
    w = np.ones(len(gap)) if w is None else np.asarray(w, dtype="float64")
    per_bin = np.bincount(bins, weights=w * gap, minlength=ECE_BINS)
    return float(np.abs(per_bin).sum() / w.sum())


def intercept_point(y, scores, w=None) -> float:
    """Calibration-in-the-large of one split (binary; `w` as in `ece_point`)."""
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype="float64")
    return float(_newton_intercept(np.asarray(y, dtype="float64"), logit(scores), w))


def slope_point(y, scores, w=None) -> float:
    """The calibration slope of one split (binary; `w` as in `ece_point`)."""
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype="float64")
    y = np.asarray(y, dtype="float64")
    lp = logit(scores)
    if not _estimable(y, lp, w[None, :])[0]:
        return float("nan")
    return float(logistic_fit(y, lp, w)[1])


def _newton_intercept(y, lp, w) -> float:
    """One split's intercept with lp as an offset (scalar Newton, the reference form)."""
    if not (np.sum(w * y) > 0 and np.sum(w * (1 - y)) > 0):
        return float("nan")
    a = 0.0
    for _ in range(STEPS):
        mu = _sigmoid(a + lp)
        step = float(np.clip(np.dot(w, y - mu) / np.dot(w, mu * (1 - mu)), -MAX_STEP, MAX_STEP))
        a += step
        if abs(step) < TOLERANCE:
            break
    return a


def logistic_fit(y, lp, w) -> np.ndarray:
    """One split's (intercept, slope): Newton's method with the 2×2 system solved by numpy."""
    design = np.column_stack([np.ones(len(lp)), lp])
    beta = np.array([0.0, 1.0])
    for _ in range(STEPS):
        mu = _sigmoid(design @ beta)
        gradient = design.T @ (w * (y - mu))
        hessian = (design * (w * mu * (1 - mu))[:, None]).T @ design
        step = np.linalg.solve(hessian, gradient)
        step /= max(1.0, float(np.max(np.abs(step))) / MAX_STEP)
        beta = beta + step
        if np.max(np.abs(step)) < TOLERANCE:
            break
    return beta
