"""Metrics (scikit-learn) with bootstrap confidence intervals.

Every metric is reported as {value, low, high}: the point estimate on the whole split and
a percentile bootstrap interval. When the data has a group column, the bootstrap resamples
whole groups (patients), not rows. Each metric is defined once, its point estimate beside
its vectorised bootstrap form (`definitions.py`); resamples and what metrics share on them
are in `resample.py`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm

from dltrain import tasks
from dltrain.config.evaluate import HEADLINE, LOWER_IS_BETTER, TASK_METRICS, better  # noqa: F401
from dltrain.evaluation.metrics.definitions import TABLES, Metric  # noqa: F401
from dltrain.evaluation.metrics.resample import BOOT_CHUNK, Resamples, bootstrap_weights

PER_CLASS = ("sensitivity", "specificity", "ppv", "npv", "f1")
NO_DIRECTION = {"bias", "loa_low", "loa_high", "calibration_intercept", "calibration_slope"}
"""Describe, not rank: Bland-Altman's bias and limits; calibration (ideal 0 and 1, not an end)."""


def default_metrics(task: str) -> list[str]:
    return list(TASK_METRICS[task])


def decisions(task: str, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Predicted class index from probabilities (binary: positive-class probability)."""
    return tasks.get(task).decisions(scores, threshold)


def metric_functions(task: str, n_classes: int, threshold: float) -> dict[str, Callable]:
    """name → f(y_true, scores): each metric's point estimate (scikit-learn)."""
    return {
        name: (lambda y, s, m=m: m.point(y, s, threshold, n_classes))
        for name, m in TABLES[task].items()
    }


def weighted_metrics(task, y, scores, weights, names, n_classes, threshold, rankings=None) -> dict:
    """Each named metric for every row of `weights` (one bootstrap resample per row).

    `rankings`: a dict kept across calls on the same (y, scores), so each score vector is
    sorted once for all chunks of resamples. Defaults to None (sorted on every call).
    """
    r = Resamples(tasks.get(task), y, scores, weights, n_classes, threshold, rankings, names)
    table = TABLES[task]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {name: table[name].resampled(r) for name in names}


def score(
    task: str,
    y: np.ndarray,
    scores: np.ndarray,
    *,
    names: list[str],
    n_classes: int,
    threshold: float,
    n_boot: int,
    confidence: float,
    seed: int,
    groups: np.ndarray | None = None,
) -> dict[str, dict[str, float | None]]:
    """Point estimates (scikit-learn) and bootstrap CIs of the named metrics on one split.

    The bootstrap is vectorised: a resample is a vector of draw counts, and each
    metric is computed for all resamples at once as the sample-weighted metric
    (what scikit-learn returns with `sample_weight=counts`; a test checks this).

    Returns:
        name → {"value", "low", "high"}; a value that is undefined on this split
        (e.g. ROC-AUC with one class present) is None.
    """
    functions = metric_functions(task, n_classes, threshold)
    alpha = (1 - confidence) / 2
    draws = {name: [] for name in names}
    rankings: dict = {}
    for start in range(0, n_boot, BOOT_CHUNK):
        weights = bootstrap_weights(len(y), min(BOOT_CHUNK, n_boot - start), seed + start, groups)
        for name, values in weighted_metrics(
            task, y, scores, weights, names, n_classes, threshold, rankings
        ).items():
            draws[name].append(values)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            value = _safe(functions[name], y, scores)
            d = np.concatenate(draws[name])
            d = d[~np.isnan(d)]
            low, high = np.quantile(d, [alpha, 1 - alpha]) if len(d) else (np.nan, np.nan)
            out[name] = {"value": _num(value), "low": _num(low), "high": _num(high)}
    return out


def per_class(y: np.ndarray, scores: np.ndarray, task: str, threshold: float, classes: list[str]):
    """One-vs-rest sensitivity, specificity, PPV, NPV, F1 and support per class (scikit-learn)."""
    pred = decisions(task, scores, threshold)
    labels = list(range(len(classes)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mcm = skm.multilabel_confusion_matrix(y, pred, labels=labels)
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            y, pred, labels=labels, zero_division=np.nan
        )
    out = {}
    for i, name in enumerate(classes):
        (tn, fp), (fn, tp) = mcm[i]
        out[name] = {
            "sensitivity": _num(recall[i]),
            "specificity": _num(tn / (tn + fp) if tn + fp else np.nan),
            "ppv": _num(precision[i]),
            "npv": _num(tn / (tn + fn) if tn + fn else np.nan),
            "f1": _num(f1[i]),
            "support": int(support[i]),
        }
    return out


def confusion(y: np.ndarray, scores: np.ndarray, task: str, threshold: float, n_classes: int):
    """Confusion matrix (rows: true class, columns: predicted), scikit-learn."""
    pred = decisions(task, scores, threshold)
    return skm.confusion_matrix(y, pred, labels=list(range(n_classes))).tolist()


def _safe(fn, y, s) -> float:
    try:
        return float(fn(y, s))
    except ValueError:
        return float("nan")


def _num(v) -> float | None:
    return None if v is None or np.isnan(v) else round(float(v), 6)
