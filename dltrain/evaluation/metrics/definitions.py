"""Every metric once: its point estimate (scikit-learn) beside its bootstrap form.

A `Metric` has two forms that must agree: `point(y, s, w)` is scikit-learn's metric,
with `w` as sample weights (None: every row once), and `resampled(r)` computes the same
metric on every bootstrap resample of a chunk at once (`r` is a `Resamples`: the draw
counts act as sample weights). tests/unit/test_metrics.py checks, for every metric of
every task, that `resampled` equals `point` with the counts as weights. Adding a metric is
one entry in its task's table here (and its name in `dltrain.config.evaluate.TASK_METRICS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from dltrain import tasks
from dltrain.evaluation.metrics import calibration as cal
from dltrain.evaluation.metrics.resample import Resamples, ratio, sum_by

NAN = float("nan")


@dataclass(frozen=True)
class Metric:
    """One metric of one task.

    Args:
        point: (y, scores, threshold, n_classes, sample_weight) → the value (scikit-learn).
        resampled: a `Resamples` → the value on each of its resamples.
    """

    point: Callable[..., float]
    resampled: Callable[[Resamples], np.ndarray]


def _decided(fn, **kw):
    """A scikit-learn metric of the decisions (class indices) rather than the scores."""

    def point(y, s, t, c, w=None, task=None):
        return fn(y, task.decisions(s, t), sample_weight=w, **kw)

    return point


def _classes_table(task: tasks.Task) -> dict[str, Metric]:
    """Binary and multiclass: the confusion counts and the curves of each class."""
    binary = task.name == "binary"

    def bind(point):
        return lambda y, s, t, c, w=None: point(y, s, t, c, w, task=task)

    def brier(r: Resamples):
        s = r.scores
        probs = np.stack([1 - s, s], axis=1) if binary else s
        per_row = ((probs - r.onehot) ** 2).sum(axis=1)
        return r.mean(per_row / 2 if binary else per_row)  # scikit-learn's binary: (p - y)^2

    def f1_rows(r: Resamples):
        return ratio(2 * r.tp, r.support + r.predicted)

    table = {
        "accuracy": Metric(bind(_decided(skm.accuracy_score)), lambda r: r.tp.sum(1) / r.total),
        "balanced_accuracy": Metric(
            bind(_decided(skm.balanced_accuracy_score)),
            lambda r: np.nanmean(ratio(r.tp, r.support), axis=1),
        ),
        "roc_auc": Metric(_roc_auc(binary), lambda r: r.curve("roc_auc")),
        "pr_auc": Metric(_pr_auc(binary), lambda r: r.curve("pr_auc")),
        "brier": Metric(_brier(binary), brier),
    }
    if not binary:
        table["f1"] = Metric(
            lambda y, s, t, c, w=None: skm.f1_score(
                y,
                task.decisions(s, t),
                average="macro",
                labels=list(range(c)),
                zero_division=0.0,
                sample_weight=w,
            ),  # fmt: skip
            lambda r: np.nan_to_num(f1_rows(r)).mean(axis=1),
        )
        return table
    one = {"zero_division": NAN}
    table.update(
        f1=Metric(bind(_decided(skm.f1_score, pos_label=1, **one)), lambda r: f1_rows(r)[:, 1]),
        sensitivity=Metric(
            bind(_decided(skm.recall_score, pos_label=1, **one)),
            lambda r: ratio(r.tp, r.support)[:, 1],
        ),
        specificity=Metric(
            bind(_decided(skm.recall_score, pos_label=0, **one)),
            lambda r: ratio(r.tn, r.tn + r.predicted - r.tp)[:, 1],
        ),
        ppv=Metric(
            bind(_decided(skm.precision_score, pos_label=1, **one)),
            lambda r: ratio(r.tp, r.predicted)[:, 1],
        ),
        npv=Metric(
            bind(_decided(skm.precision_score, pos_label=0, **one)),
            lambda r: ratio(r.tn, r.tn + r.support - r.tp)[:, 1],
        ),
    )
    return table


def _calibration_table(binary: bool) -> dict[str, Metric]:
    """The ECE (binary: of P(positive); multiclass: top-label) and, for a binary task,
    calibration-in-the-large and the calibration slope (`metrics/calibration.py`)."""
    table = {
        "ece": Metric(
            lambda y, s, t, c, w=None: cal.ece_point(y, s, binary, w), lambda r: _ece(r, binary)
        )
    }
    if binary:
        table["calibration_intercept"] = Metric(
            lambda y, s, t, c, w=None: cal.intercept_point(y, s, w),
            lambda r: cal.intercepts(r.y, cal.logit(r.scores), r.weights),
        )
        table["calibration_slope"] = Metric(
            lambda y, s, t, c, w=None: cal.slope_point(y, s, w),
            lambda r: cal.slopes(r.y, cal.logit(r.scores), r.weights),
        )
    return table


def _ece(r: Resamples, binary: bool) -> np.ndarray:
    """The ECE of every resample: |sum of (predicted − observed)| per bin, over the total."""
    bins, gap = cal.ece_parts(r.y, r.scores, binary)
    per_bin = sum_by(r.weights * gap[None, :], bins, cal.ECE_BINS)
    return np.abs(per_bin).sum(axis=1) / r.total


def _roc_auc(binary: bool):
    if binary:
        return lambda y, s, t, c, w=None: skm.roc_auc_score(y, s, sample_weight=w)
    return lambda y, s, t, c, w=None: skm.roc_auc_score(
        y, s, multi_class="ovr", average="macro", labels=list(range(c)), sample_weight=w
    )


def _pr_auc(binary: bool):
    if binary:
        return lambda y, s, t, c, w=None: skm.average_precision_score(y, s, sample_weight=w)
    return lambda y, s, t, c, w=None: skm.average_precision_score(
        np.eye(c)[y], s, average="macro", sample_weight=w
    )


def _brier(binary: bool):
    if binary:
        return lambda y, s, t, c, w=None: skm.brier_score_loss(y, s, sample_weight=w)
    return lambda y, s, t, c, w=None: skm.brier_score_loss(
        y, s, labels=list(range(c)), sample_weight=w
    )


def _multilabel_table() -> dict[str, Metric]:
    """Each label scored as a binary task at the frozen threshold, then averaged (macro)."""
    binary = _classes_table(tasks.get("binary"))
    points = {
        "accuracy": lambda y, s, t, w: skm.accuracy_score(y, s >= t, sample_weight=w),
        "roc_auc": lambda y, s, t, w: skm.roc_auc_score(y, s, sample_weight=w),
        "pr_auc": lambda y, s, t, w: skm.average_precision_score(y, s, sample_weight=w),
        "f1": lambda y, s, t, w: skm.f1_score(y, s >= t, zero_division=0.0, sample_weight=w),
        "brier": lambda y, s, t, w: skm.brier_score_loss(y, s, sample_weight=w),
    }

    def per_label(fn):
        return lambda y, s, t, c, w=None: float(
            np.mean([fn(y[:, k], s[:, k], t, w) for k in range(y.shape[1])])
        )

    def mean_of_labels(name):
        def resampled(r: Resamples):
            labels = r.y.shape[1]
            return np.mean(
                [
                    binary[name].resampled(
                        Resamples(
                            tasks.get("binary"),
                            r.y[:, k].astype("int64"),
                            r.scores[:, k],
                            r.weights,
                            2,
                            r.threshold,
                            r.rankings.setdefault(("label", k), {}),
                            {name},
                        )  # fmt: skip
                    )
                    for k in range(labels)
                ],
                axis=0,
            )

        return resampled

    return {name: Metric(per_label(fn), mean_of_labels(name)) for name, fn in points.items()}


def _limits(y, p, sign: float, w=None) -> float:
    """A Bland-Altman limit of agreement: mean difference ± 1.96 SD (weights as counts)."""
    diff = np.asarray(p, dtype="float64") - np.asarray(y, dtype="float64")
    if w is None:
        return float(diff.mean() + sign * 1.96 * diff.std(ddof=1))
    bias = np.average(diff, weights=w)
    sd = np.sqrt(np.sum(w * (diff - bias) ** 2) / (np.sum(w) - 1))
    return float(bias + sign * 1.96 * sd)


def _regression_table() -> dict[str, Metric]:
    def parts(r: Resamples):
        err = r.scores - r.y
        bias = r.mean(err)
        spread = (r.weights * (err[None, :] - bias[:, None]) ** 2).sum(axis=1)
        return err, bias, np.sqrt(ratio(spread, r.total - 1))

    def r2(r: Resamples):
        err = r.scores - r.y
        mean_y = r.mean(r.y)
        sse = (r.weights * err**2).sum(axis=1)
        sst = (r.weights * (r.y[None, :] - mean_y[:, None]) ** 2).sum(axis=1)
        return ratio(sst - sse, sst)

    return {
        "mae": Metric(
            lambda y, s, t, c, w=None: skm.mean_absolute_error(y, s, sample_weight=w),
            lambda r: r.mean(np.abs(r.scores - r.y)),
        ),
        "rmse": Metric(
            lambda y, s, t, c, w=None: float(
                np.sqrt(skm.mean_squared_error(y, s, sample_weight=w))
            ),
            lambda r: np.sqrt((r.weights * (r.scores - r.y) ** 2).sum(axis=1) / r.total),
        ),
        "r2": Metric(lambda y, s, t, c, w=None: skm.r2_score(y, s, sample_weight=w), r2),
        "bias": Metric(
            lambda y, s, t, c, w=None: float(np.average(np.asarray(s) - np.asarray(y), weights=w)),
            lambda r: parts(r)[1],
        ),
        "loa_low": Metric(
            lambda y, s, t, c, w=None: _limits(y, s, -1.0, w),
            lambda r: (lambda _, b, sd: b - 1.96 * sd)(*parts(r)),
        ),
        "loa_high": Metric(
            lambda y, s, t, c, w=None: _limits(y, s, +1.0, w),
            lambda r: (lambda _, b, sd: b + 1.96 * sd)(*parts(r)),
        ),
    }


def _reconstruction_table() -> dict[str, Metric]:
    """Scores are per-sample reconstruction errors; y is the anomaly label, if any."""
    return {
        "mse": Metric(
            lambda y, s, t, c, w=None: float(np.average(s, weights=w)), lambda r: r.mean(r.scores)
        ),
        "anomaly_roc_auc": Metric(
            lambda y, s, t, c, w=None: skm.roc_auc_score(
                (y == y.max()).astype(int), s, sample_weight=w
            ),
            lambda r: r.roc_auc_of("anomaly", r.y == r.y.max(), r.scores),
        ),
    }


TABLES: dict[str, dict[str, Metric]] = {
    "binary": {**_classes_table(tasks.get("binary")), **_calibration_table(True)},
    "multiclass": {**_classes_table(tasks.get("multiclass")), **_calibration_table(False)},
    "multilabel": _multilabel_table(),
    "regression": _regression_table(),
    "reconstruction": _reconstruction_table(),
}
"""task name → metric name → `Metric`; the names are `Task.metrics`."""
