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

from dltrain.config.evaluate import HEADLINE, LOWER_IS_BETTER, TASK_METRICS, better  # noqa: F401

PER_CLASS = ("sensitivity", "specificity", "ppv", "npv", "f1")
NO_DIRECTION = {"bias", "loa_low", "loa_high"}  # Bland-Altman: describe, not rank


def default_metrics(task: str) -> list[str]:
    return list(TASK_METRICS[task])


def decisions(task: str, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Predicted class index from probabilities (binary: positive-class probability)."""
    if task == "binary":
        return (scores >= threshold).astype("int64")
    return np.argmax(scores, axis=1)


def _limits(y, p, sign: float) -> float:
    diff = np.asarray(p, dtype="float64") - np.asarray(y, dtype="float64")
    return float(diff.mean() + sign * 1.96 * diff.std(ddof=1))


def metric_functions(task: str, n_classes: int, threshold: float) -> dict[str, Callable]:
    """name → f(y_true, scores) by scikit-learn; scores are probabilities or predicted values."""
    if task == "regression":
        return {
            "mae": skm.mean_absolute_error,
            "rmse": lambda y, p: float(np.sqrt(skm.mean_squared_error(y, p))),
            "r2": skm.r2_score,
            "bias": lambda y, p: float(np.mean(np.asarray(p) - np.asarray(y))),
            "loa_low": lambda y, p: _limits(y, p, -1.0),
            "loa_high": lambda y, p: _limits(y, p, +1.0),
        }

    if task == "reconstruction":  # scores: per-sample reconstruction error; y: labels if any
        return {
            "mse": lambda y, s: float(np.mean(s)),
            "anomaly_roc_auc": lambda y, s: skm.roc_auc_score((y == y.max()).astype(int), s),
        }
    if task == "multilabel":  # y, scores: (n, labels) 0/1 and probabilities; macro averages

        def per_label(fn):
            return lambda y, s: float(np.mean([fn(y[:, k], s[:, k]) for k in range(y.shape[1])]))

        return {
            "accuracy": per_label(lambda y, s: skm.accuracy_score(y, s >= threshold)),
            "roc_auc": per_label(skm.roc_auc_score),
            "pr_auc": per_label(skm.average_precision_score),
            "f1": per_label(lambda y, s: skm.f1_score(y, s >= threshold, zero_division=0.0)),
            "brier": per_label(skm.brier_score_loss),
        }

    def on_classes(fn, **kw):
        return lambda y, s: fn(y, decisions(task, s, threshold), **kw)

    labels = list(range(n_classes))
    nan = float("nan")
    out = {
        "accuracy": on_classes(skm.accuracy_score),
        "balanced_accuracy": on_classes(skm.balanced_accuracy_score),
    }
    if task == "binary":
        out.update(
            roc_auc=skm.roc_auc_score,
            pr_auc=skm.average_precision_score,
            f1=on_classes(skm.f1_score, pos_label=1, zero_division=nan),
            sensitivity=on_classes(skm.recall_score, pos_label=1, zero_division=nan),
            specificity=on_classes(skm.recall_score, pos_label=0, zero_division=nan),
            ppv=on_classes(skm.precision_score, pos_label=1, zero_division=nan),
            npv=on_classes(skm.precision_score, pos_label=0, zero_division=nan),
            brier=skm.brier_score_loss,
        )
        return out
    onehot = np.eye(n_classes)
    out.update(
        roc_auc=lambda y, s: skm.roc_auc_score(
            y, s, multi_class="ovr", average="macro", labels=labels
        ),
        pr_auc=lambda y, s: skm.average_precision_score(onehot[y], s, average="macro"),
        f1=on_classes(skm.f1_score, average="macro", labels=labels, zero_division=0.0),
        brier=lambda y, s: skm.brier_score_loss(y, s, labels=labels),
    )
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


BOOT_CHUNK = 100


def _sum_by(weights: np.ndarray, keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Per resample, the total weight of the rows with each key: (B, n) → (B, n_keys)."""
    from scipy import sparse

    onehot = sparse.csr_matrix(
        (np.ones(len(keys)), (np.arange(len(keys)), keys)), shape=(len(keys), n_keys)
    )
    return np.asarray((onehot.T @ weights.T).T)


class _Ranking:
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


def _curve_metrics(weights, ranking: _Ranking, wanted) -> dict[str, np.ndarray]:
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


def _weighted_auc(weights, positive: np.ndarray, s: np.ndarray, ranking=None) -> np.ndarray:
    """Weighted ROC-AUC (ties count one half) for each resample."""
    return _curve_metrics(weights, ranking or _Ranking(positive, s), {"roc_auc"})["roc_auc"]


def _weighted_ap(weights, positive: np.ndarray, s: np.ndarray, ranking=None) -> np.ndarray:
    """Weighted average precision (step-wise PR-AUC, as scikit-learn) for each resample."""
    return _curve_metrics(weights, ranking or _Ranking(positive, s), {"pr_auc"})["pr_auc"]


def _ratio(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def weighted_metrics(task, y, scores, weights, names, n_classes, threshold, rankings=None) -> dict:
    """Each named metric for every row of `weights` (one bootstrap resample per row).

    `rankings`: a dict kept across calls on the same (y, scores), so each score vector is
    sorted once for all chunks of resamples. Defaults to None (sorted on every call).
    """
    rankings = {} if rankings is None else rankings

    def ranking(key, positive, s):
        if key not in rankings:
            rankings[key] = _Ranking(positive, s)
        return rankings[key]

    total = weights.sum(axis=1)
    if task == "regression":
        err = scores - y
        mean_y = (weights * y).sum(axis=1) / total
        sse = (weights * err**2).sum(axis=1)
        sst = (weights * (y[None, :] - mean_y[:, None]) ** 2).sum(axis=1)
        bias = (weights * err).sum(axis=1) / total
        sd = np.sqrt(_ratio((weights * (err[None, :] - bias[:, None]) ** 2).sum(axis=1), total - 1))
        table = {
            "mae": lambda: (weights * np.abs(err)).sum(axis=1) / total,
            "rmse": lambda: np.sqrt(sse / total),
            "r2": lambda: _ratio(sst - sse, sst),
            "bias": lambda: bias,
            "loa_low": lambda: bias - 1.96 * sd,
            "loa_high": lambda: bias + 1.96 * sd,
        }
        return {name: table[name]() for name in names}
    if task == "reconstruction":
        table = {
            "mse": lambda: (weights * scores).sum(axis=1) / total,
            "anomaly_roc_auc": lambda: _weighted_auc(
                weights, None, None, ranking("anomaly", y == y.max(), scores)
            ),
        }
        return {name: table[name]() for name in names}
    if task == "multilabel":
        out = {}
        for name in names:
            per_label = [
                weighted_metrics(
                    "binary",
                    y[:, k].astype("int64"),
                    scores[:, k],
                    weights,
                    [name],
                    2,
                    threshold,
                    rankings.setdefault(("label", k), {}),
                )[name]
                for k in range(y.shape[1])
            ]
            out[name] = np.mean(per_label, axis=0)
        return out
    c = n_classes
    pred = decisions(task, scores, threshold)
    conf = _sum_by(weights, y.astype("int64") * c + pred, c * c).reshape(-1, c, c)
    tp = np.diagonal(conf, axis1=1, axis2=2)
    support = conf.sum(axis=2)
    predicted = conf.sum(axis=1)
    onehot = np.eye(c)[y.astype("int64")]
    positive = onehot[:, 1] if task == "binary" else None

    def ranked(k):
        if task == "binary":
            return ranking(1, positive, scores)
        return ranking(k, onehot[:, k], scores[:, k])

    wanted = {"roc_auc", "pr_auc"} & set(names)
    curves: dict = {}  # per class: both curve metrics from one pass (only scalars kept)

    def curve(name):
        keys = [1] if task == "binary" else range(c)
        for k in keys:
            if k not in curves:
                curves[k] = _curve_metrics(weights, ranked(k), wanted)
        return np.mean([curves[k][name] for k in keys], axis=0)

    def auc():
        return curve("roc_auc")

    def ap():
        return curve("pr_auc")

    def brier():
        probs = np.stack([1 - scores, scores], axis=1) if task == "binary" else scores
        per_row = ((probs - onehot) ** 2).sum(axis=1)
        if task == "binary":
            per_row = per_row / 2  # scikit-learn's binary Brier: (p - y)^2
        return (weights * per_row).sum(axis=1) / total

    f1_c = _ratio(2 * tp, support + predicted)
    tn = total[:, None] - support - predicted + tp
    table = {
        "accuracy": lambda: tp.sum(axis=1) / total,
        "balanced_accuracy": lambda: np.nanmean(_ratio(tp, support), axis=1),
        "roc_auc": auc,
        "pr_auc": ap,
        "brier": brier,
        "f1": lambda: f1_c[:, 1] if task == "binary" else np.nan_to_num(f1_c).mean(axis=1),
        "sensitivity": lambda: _ratio(tp, support)[:, 1],
        "specificity": lambda: _ratio(tn, tn + predicted - tp)[:, 1],
        "ppv": lambda: _ratio(tp, predicted)[:, 1],
        "npv": lambda: _ratio(tn, tn + support - tp)[:, 1],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {name: table[name]() for name in names}


def _safe(fn, y, s) -> float:
    try:
        return float(fn(y, s))
    except ValueError:
        return float("nan")


def _num(v) -> float | None:
    return None if v is None or np.isnan(v) else round(float(v), 6)


def fit_baselines(task: str, x_train, y_train, seed: int) -> dict:
    """Trivial models fitted on the training inputs (flattened), by scikit-learn.

    Returns name → predictor(flat_x, raw_x, feed) giving scores in the units the
    metrics use: the majority class (class priors) and a logistic regression; the
    mean and a linear regression; for reconstruction the training mean and a PCA
    (a linear autoencoder), scored by per-sample reconstruction error.
    """
    from sklearn.decomposition import PCA
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sparse = hasattr(x_train, "tocsr")

    def scaled(model):
        return make_pipeline(StandardScaler(with_mean=not sparse), model)

    logistic = LogisticRegression(max_iter=2000, random_state=seed)
    if task == "regression":
        models = {"mean": DummyRegressor(strategy="mean"), "linear": scaled(LinearRegression())}
    elif task == "reconstruction":
        k = int(min(16, x_train.shape[1], max(1, x_train.shape[0] - 1)))
        models = {"mean": DummyRegressor(strategy="mean"), "pca": PCA(k, random_state=seed)}
    elif task == "multilabel":
        models = {
            "prior": MultiOutputClassifier(DummyClassifier(strategy="prior")),
            "logistic": MultiOutputClassifier(scaled(logistic)),
        }
    else:
        models = {"majority": DummyClassifier(strategy="prior"), "logistic": scaled(logistic)}
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in models.items():
            model.fit(x_train, y_train)
            out[name] = _predictor(task, model)
    return out


def _predictor(task: str, model):
    def predict(flat, raw, feed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if task == "regression":
                return model.predict(flat)
            if task == "reconstruction":
                x = raw.astype("float32")
                target = feed.eval_batch(x, None)[1].reshape(len(x), -1)
                if hasattr(model, "inverse_transform"):
                    rebuilt = model.inverse_transform(model.transform(target))
                else:
                    rebuilt = model.predict(target)
                return np.mean((rebuilt - target) ** 2, axis=1)
            if task == "multilabel":
                return np.stack([p[:, -1] for p in model.predict_proba(flat)], axis=1)
            proba = model.predict_proba(flat)
            return proba[:, 1] if task == "binary" else proba

    return predict
