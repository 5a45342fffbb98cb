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
SLOPE_TOLERANCE = 1e-9  # a row stops here: metrics.json keeps 6 decimals
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
    positives = (weights * y).sum(axis=1)
    negatives = (weights * (1 - y)).sum(axis=1)
    both = (positives > 0) & (negatives > 0)  # otherwise no maximum: not iterated
    active = np.flatnonzero(both)  # rows leave as they converge
    for _ in range(STEPS):
        if not len(active):
            break
        w = weights[active]
        mu = _sigmoid(a[active, None] + lp[None, :])
        wm = w * mu
        gradient = w @ y - wm.sum(axis=1)
        curvature = (wm - wm * mu).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.nan_to_num(np.clip(gradient / curvature, -MAX_STEP, MAX_STEP))
        a[active] += step
        active = active[np.abs(step) >= TOLERANCE]
    return np.where(both, a, np.nan)


def slopes(y: np.ndarray, lp: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The calibration slope of each row of `weights` (B, n): the ML logistic regression of y
    on lp (intercept and slope) by Newton's method, NaN where the maximum does not exist.

    Only the rows where the maximum exists are iterated (`_estimable`: a constant or
    separating predictor has none, and its steps never shrink); each starts from the fit
    with equal weights (a resample's maximum lies near it) and stops once its own step is
    below the tolerance.
    """
    y = y.astype("float64")
    out = np.full(len(weights), np.nan)
    estimable = _estimable(y, lp, weights)  # the others (no maximum) are not iterated
    if not estimable.any():
        return out
    start = _newton_slope(y, lp, np.ones((1, len(y))), np.zeros(1), np.ones(1))
    a0 = start[0][0] if np.isfinite(start[0][0]) and abs(start[0][0]) < 1e6 else 0.0
    b0 = start[1][0] if np.isfinite(start[1][0]) and abs(start[1][0]) < 1e6 else 1.0
    rows = weights[estimable]
    _, b = _newton_slope(y, lp, rows, np.full(len(rows), a0), np.full(len(rows), b0))
    out[estimable] = b
    return out


def _newton_slope(y, lp, weights, a, b) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method for (intercept, slope) of each row of `weights`, from (a, b); rows
    leave the iteration as they converge."""
    a, b = a.astype("float64").copy(), b.astype("float64").copy()
    active = np.arange(len(weights))
    lp2, ylp = lp * lp, y * lp
    for _ in range(STEPS):
        w = weights[active]
        mu = _sigmoid(a[active, None] + b[active, None] * lp[None, :])
        wm = w * mu  # the sums below are matrix products (BLAS), not passes over (B, n)
        v = wm - wm * mu
        g0, g1 = w @ y - wm.sum(axis=1), w @ ylp - wm @ lp
        h00, h01, h11 = v.sum(axis=1), v @ lp, v @ lp2
        det = h00 * h11 - h01 * h01
        with np.errstate(invalid="ignore", divide="ignore"):
            da = np.nan_to_num((h11 * g0 - h01 * g1) / det)
            db = np.nan_to_num((h00 * g1 - h01 * g0) / det)
        size = np.maximum(np.abs(da), np.abs(db))
        scale = np.maximum(1.0, size / MAX_STEP)
        a[active] += da / scale
        b[active] += db / scale
        active = active[size >= SLOPE_TOLERANCE]
        if not len(active):
            break
    return a, b


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
