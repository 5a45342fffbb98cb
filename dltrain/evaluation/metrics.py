"""Metrics (scikit-learn) with bootstrap confidence intervals, and trivial baselines.

Every metric is reported as {value, low, high}: the point estimate on the whole
split and a percentile bootstrap interval. When the data has a group column,
the bootstrap resamples whole groups (patients), not rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm

from dltrain.config.evaluate import CLASSIFICATION_METRICS, REGRESSION_METRICS

HEADLINE = {"binary": "roc_auc", "multiclass": "balanced_accuracy", "regression": "r2"}


def default_metrics(task: str) -> list[str]:
    return list(REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS)


def decisions(task: str, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Predicted class index from probabilities (binary: positive-class probability)."""
    if task == "binary":
        return (scores >= threshold).astype("int64")
    return np.argmax(scores, axis=1)


def metric_functions(task: str, n_classes: int, threshold: float) -> dict[str, Callable]:
    """name → f(y_true, scores); scores are probabilities, or predicted values for regression."""
    if task == "regression":
        return {
            "mae": skm.mean_absolute_error,
            "rmse": lambda y, p: float(np.sqrt(skm.mean_squared_error(y, p))),
            "r2": skm.r2_score,
        }

    def on_classes(fn, **kw):
        return lambda y, s: fn(y, decisions(task, s, threshold), **kw)

    labels = list(range(n_classes))
    if task == "binary":
        auc = skm.roc_auc_score
        f1 = on_classes(skm.f1_score, pos_label=1, zero_division=0.0)
    else:

        def auc(y, s):
            return skm.roc_auc_score(y, s, multi_class="ovr", average="macro", labels=labels)

        f1 = on_classes(skm.f1_score, average="macro", labels=labels, zero_division=0.0)
    return {
        "accuracy": on_classes(skm.accuracy_score),
        "balanced_accuracy": on_classes(skm.balanced_accuracy_score),
        "roc_auc": auc,
        "f1": f1,
    }


def bootstrap_weights(n: int, n_boot: int, seed: int, groups: np.ndarray | None = None):
    """Bootstrap resamples as weights: how often each row is drawn, shape (n_boot, n).

    Rows are drawn with replacement; with `groups`, whole groups (patients) are drawn
    and each row of a drawn group gets the group's count.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype("float64")
    _, inverse = np.unique(groups, return_inverse=True)
    n_groups = int(inverse.max()) + 1
    drawn = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot)
    return drawn[:, inverse].astype("float64")


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
    for start in range(0, n_boot, BOOT_CHUNK):
        weights = bootstrap_weights(len(y), min(BOOT_CHUNK, n_boot - start), seed + start, groups)
        for name, values in weighted_metrics(
            task, y, scores, weights, names, n_classes, threshold
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


BOOT_CHUNK = 100


def _sum_by(weights: np.ndarray, keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Per resample, the total weight of the rows with each key: (B, n) → (B, n_keys)."""
    from scipy import sparse

    onehot = sparse.csr_matrix(
        (np.ones(len(keys)), (np.arange(len(keys)), keys)), shape=(len(keys), n_keys)
    )
    return np.asarray((onehot.T @ weights.T).T)


def _weighted_auc(weights, positive: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Weighted ROC-AUC (ties count one half) for each resample."""
    levels, inverse = np.unique(s, return_inverse=True)
    k = len(levels)
    pos = _sum_by(weights * positive, inverse, k)
    neg = _sum_by(weights * (1 - positive), inverse, k)
    below = np.cumsum(neg, axis=1) - neg
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + 0.5 * neg)).sum(axis=1) / total
    auc[total == 0] = np.nan
    return auc


def weighted_metrics(task, y, scores, weights, names, n_classes, threshold) -> dict:
    """Each named metric for every row of `weights` (one bootstrap resample per row)."""
    out = {}
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if task == "regression":
            err = scores - y
            mean_y = (weights * y).sum(axis=1) / total
            sse = (weights * err**2).sum(axis=1)
            sst = (weights * (y[None, :] - mean_y[:, None]) ** 2).sum(axis=1)
            table = {
                "mae": lambda: (weights * np.abs(err)).sum(axis=1) / total,
                "rmse": lambda: np.sqrt(sse / total),
                "r2": lambda: np.where(sst > 0, 1 - sse / sst, np.nan),
            }
            return {name: table[name]() for name in names}
        c = n_classes
        pred = decisions(task, scores, threshold)
        conf = _sum_by(weights, y.astype("int64") * c + pred, c * c).reshape(-1, c, c)
        tp = np.diagonal(conf, axis1=1, axis2=2)
        support = conf.sum(axis=2)
        predicted = conf.sum(axis=1)
        f1_c = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
        for name in names:
            if name == "accuracy":
                out[name] = tp.sum(axis=1) / total
            elif name == "balanced_accuracy":
                recall = np.where(support > 0, tp / np.where(support > 0, support, 1), np.nan)
                out[name] = np.nanmean(recall, axis=1)
            elif name == "f1":
                out[name] = f1_c[:, 1] if task == "binary" else f1_c.mean(axis=1)
            elif name == "roc_auc":
                if task == "binary":
                    out[name] = _weighted_auc(weights, (y == 1).astype("float64"), scores)
                else:
                    per_class = [
                        _weighted_auc(weights, (y == k).astype("float64"), scores[:, k])
                        for k in range(c)
                    ]
                    out[name] = np.mean(per_class, axis=0)
    return out


def _safe(fn, y, s) -> float:
    try:
        return float(fn(y, s))
    except ValueError:
        return float("nan")


def _num(v) -> float | None:
    return None if v is None or np.isnan(v) else round(float(v), 6)


def baselines(task: str, x_train, y_train, x_eval, seed: int) -> dict[str, np.ndarray]:
    """Scores of trivial models on `x_eval`: the majority class (or mean) and a linear model."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if task == "regression":
        models = {"mean": DummyRegressor(strategy="mean"), "linear": LinearRegression()}
    else:
        models = {
            "majority": DummyClassifier(strategy="prior"),
            "logistic": LogisticRegression(max_iter=2000, random_state=seed),
        }
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in models.items():
            model.fit(x_train, y_train)
            if task == "regression":
                out[name] = model.predict(x_eval)
            else:
                proba = model.predict_proba(x_eval)
                out[name] = proba[:, 1] if task == "binary" else proba
    return out
