"""Metrics and their bootstrap CIs agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from dltrain.evaluation import metrics as M


def _data(task, n=150, seed=0):
    rng = np.random.default_rng(seed)
    if task == "binary":
        y = rng.integers(0, 2, n)
        return y, np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1).round(2)
    if task == "multiclass":
        return rng.integers(0, 3, n), rng.dirichlet([1, 1, 1], n)
    y = rng.normal(size=n)
    return y, y + 0.5 * rng.normal(size=n)


def _sklearn(task, name, y, s, w):
    """The reference: scikit-learn's metric with the bootstrap counts as sample weights."""
    if task == "regression":
        d = s - y
        bias = np.average(d, weights=w)
        sd = np.sqrt(np.sum(w * (d - bias) ** 2) / (w.sum() - 1))
        return {
            "mae": skm.mean_absolute_error(y, s, sample_weight=w),
            "rmse": np.sqrt(skm.mean_squared_error(y, s, sample_weight=w)),
            "r2": skm.r2_score(y, s, sample_weight=w),
            "bias": bias,
            "loa_low": bias - 1.96 * sd,
            "loa_high": bias + 1.96 * sd,
        }[name]
    pred = (s >= 0.5).astype(int) if task == "binary" else s.argmax(1)
    labels = [0, 1, 2]
    if name in CALIBRATION:
        return CALIBRATION[name](y, s, w)
    if task == "binary":
        return {
            "accuracy": lambda: skm.accuracy_score(y, pred, sample_weight=w),
            "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, pred, sample_weight=w),
            "roc_auc": lambda: skm.roc_auc_score(y, s, sample_weight=w),
            "pr_auc": lambda: skm.average_precision_score(y, s, sample_weight=w),
            "f1": lambda: skm.f1_score(y, pred, sample_weight=w),
            "sensitivity": lambda: skm.recall_score(y, pred, sample_weight=w),
            "specificity": lambda: skm.recall_score(y, pred, pos_label=0, sample_weight=w),
            "ppv": lambda: skm.precision_score(y, pred, sample_weight=w),
            "npv": lambda: skm.precision_score(y, pred, pos_label=0, sample_weight=w),
            "brier": lambda: skm.brier_score_loss(y, s, sample_weight=w),
        }[name]()
    return {
        "accuracy": lambda: skm.accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, pred, sample_weight=w),
        "roc_auc": lambda: skm.roc_auc_score(
            y, s, sample_weight=w, multi_class="ovr", labels=labels
        ),
        "pr_auc": lambda: skm.average_precision_score(np.eye(3)[y], s, sample_weight=w),
        "f1": lambda: skm.f1_score(y, pred, average="macro", sample_weight=w, labels=labels),
        "brier": lambda: skm.brier_score_loss(y, s, sample_weight=w, labels=labels),
    }[name]()


def _lp(s):
    p = np.clip(s, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _intercept(y, s, w):
    """Calibration-in-the-large: the root of the score equation of the intercept with
    logit(p) as an offset (scipy's Brent solver)."""
    lp = _lp(s)
    return brentq(lambda a: np.sum(w * (y - 1 / (1 + np.exp(-(a + lp))))), -20, 20, xtol=1e-14)


def _slope(y, s, w):
    """The calibration slope: scikit-learn's unpenalised logistic regression on logit(p)."""
    model = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)
    return model.fit(_lp(s)[:, None], y, sample_weight=w).coef_[0, 0]


def _ece(y, s, w):
    """The ECE bin by bin: |weighted mean predicted − weighted observed| × bin weight."""
    if s.ndim == 1:
        p, hit = s, y
    else:
        p, hit = s.max(axis=1), (s.argmax(axis=1) == y)
    total = 0.0
    for k in range(10):
        inside = (p >= k / 10) & ((p < (k + 1) / 10) if k < 9 else (p <= 1))
        if w[inside].sum():
            gap = np.average(p[inside], weights=w[inside]) - np.average(
                hit[inside], weights=w[inside]
            )
            total += w[inside].sum() * abs(gap)
    return total / w.sum()


CALIBRATION = {"calibration_intercept": _intercept, "calibration_slope": _slope, "ece": _ece}
FITTED = {"calibration_intercept": 1e-9, "calibration_slope": 1e-5}  # iterative references


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_weighted_bootstrap_equals_sklearn_with_sample_weight(task):
    y, s = _data(task)
    names = M.default_metrics(task)
    weights = M.bootstrap_weights(len(y), 4, seed=1)
    ours = M.weighted_metrics(task, y, s, weights, names, 3 if task == "multiclass" else 2, 0.5)
    for name in names:
        for b in range(4):
            expected = _sklearn(task, name, y, s, weights[b])
            assert ours[name][b] == pytest.approx(expected, abs=FITTED.get(name, 1e-9)), name


def test_calibration_is_undefined_where_the_likelihood_has_no_maximum():
    """The slope of perfectly separated outcomes, or of a constant prediction (the majority
    baseline), and the intercept of a one-class split are None (n/a), not a huge number."""
    p = np.linspace(0.05, 0.95, 40)
    separated = (p > 0.5).astype(int)
    names = ["calibration_intercept", "calibration_slope", "ece"]
    out = M.score("binary", separated, p, names=names, n_classes=2, threshold=0.5,
                  n_boot=50, confidence=0.95, seed=0)  # fmt: skip
    assert out["calibration_slope"] == {"value": None, "low": None, "high": None}
    assert out["calibration_intercept"]["value"] is not None
    constant = M.score("binary", (p > 0.3).astype(int), np.full(40, 0.7), names=names,
                       n_classes=2, threshold=0.5, n_boot=50, confidence=0.95, seed=0)  # fmt: skip
    assert constant["calibration_slope"]["value"] is None
    share = (p > 0.3).mean()  # a constant risk is off by logit(share) − logit(0.7)
    expected = np.log(share / (1 - share)) - np.log(0.7 / 0.3)
    assert constant["calibration_intercept"]["value"] == pytest.approx(expected, abs=1e-6)
    one_class = M.score("binary", np.ones(40, int), p, names=names, n_classes=2,
                        threshold=0.5, n_boot=50, confidence=0.95, seed=0)  # fmt: skip
    assert one_class["calibration_intercept"]["value"] is None


def test_calibration_of_known_miscalibration():
    """Outcomes drawn from the true risks: slope about 1 and intercept about 0 for the true
    risks; risks made too extreme (logit doubled) give a slope about 0.5; ECE near 0."""
    rng = np.random.default_rng(0)
    lp = rng.normal(size=20_000)
    risk = 1 / (1 + np.exp(-lp))
    y = (rng.random(20_000) < risk).astype(int)
    too_extreme = 1 / (1 + np.exp(-2 * lp))
    w = np.ones((1, len(y)))
    names = ["calibration_intercept", "calibration_slope", "ece"]
    good = M.weighted_metrics("binary", y, risk, w, names, 2, 0.5)
    bad = M.weighted_metrics("binary", y, too_extreme, w, names, 2, 0.5)
    assert abs(good["calibration_slope"][0] - 1) < 0.05
    assert abs(good["calibration_intercept"][0]) < 0.05
    assert good["ece"][0] < 0.02
    assert abs(bad["calibration_slope"][0] - 0.5) < 0.03
    assert bad["ece"][0] > 0.05


def test_score_gives_point_and_interval():
    y, s = _data("binary", n=300)
    out = M.score(
        "binary",
        y,
        s,
        names=M.default_metrics("binary"),
        n_classes=2,
        threshold=0.5,
        n_boot=200,
        confidence=0.95,
        seed=0,
    )
    for name, m in out.items():
        assert m["low"] <= m["value"] <= m["high"], name
        assert m["high"] - m["low"] < (1.0 if name.startswith("calibration_") else 0.3)
    assert out["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-6)


def test_undefined_metric_is_none_not_a_crash():
    y = np.zeros(20, dtype=int)
    out = M.score(
        "binary",
        y,
        np.linspace(0, 1, 20),
        names=["roc_auc", "accuracy"],
        n_classes=2,
        threshold=0.5,
        n_boot=20,
        confidence=0.95,
        seed=0,
    )
    assert out["roc_auc"] == {"value": None, "low": None, "high": None}
    assert out["accuracy"]["value"] == 0.5


def test_per_class_and_confusion():
    y = np.array([0, 0, 1, 1, 2, 2])
    s = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    pc = M.per_class(y, s, "multiclass", 0.5, ["a", "b", "c"])
    assert pc["a"]["sensitivity"] == 0.5 and pc["b"]["ppv"] == pytest.approx(2 / 3)
    assert pc["c"]["specificity"] == 1.0 and pc["a"]["support"] == 2
    assert M.confusion(y, s, "multiclass", 0.5, 3) == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_group_bootstrap_draws_whole_groups():
    groups = np.repeat(np.arange(5), 3)
    w = M.bootstrap_weights(15, 50, seed=0, groups=groups)
    per_group = w.reshape(50, 5, 3)
    assert (per_group == per_group[:, :, :1]).all()  # rows of one group share a count
    assert (w.sum(axis=1) == 15).all()


def test_reconstruction_and_multilabel_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    errors = rng.random(120)
    labels = (errors + 0.3 * rng.random(120) > 0.7).astype(int)
    w = M.bootstrap_weights(120, 3, seed=2)
    ours = M.weighted_metrics(
        "reconstruction", labels, errors, w, ["mse", "anomaly_roc_auc"], 0, 0.5
    )
    for b in range(3):
        assert ours["mse"][b] == pytest.approx(np.average(errors, weights=w[b]))
        assert ours["anomaly_roc_auc"][b] == pytest.approx(
            skm.roc_auc_score(labels, errors, sample_weight=w[b])
        )
    y = rng.integers(0, 2, (150, 3))
    s = np.clip(0.4 * y + 0.6 * rng.random((150, 3)), 0, 1)
    ours = M.weighted_metrics(
        "multilabel", y, s, w[:, :1].repeat(150, 1) * 0 + 1, ["roc_auc", "f1"], 3, 0.5
    )
    assert ours["roc_auc"][0] == pytest.approx(skm.roc_auc_score(y, s, average="macro"))
    assert ours["f1"][0] == pytest.approx(skm.f1_score(y, s >= 0.5, average="macro"))


def _any_task_data(task, n=160, seed=3):
    """Truth and scores of `task`, with both classes of each label present."""
    rng = np.random.default_rng(seed)
    if task == "multilabel":
        y = rng.integers(0, 2, (n, 3))
        return y, np.clip(0.4 * y + 0.6 * rng.random((n, 3)), 0, 1), 3
    if task == "reconstruction":
        errors = rng.random(n)
        return (errors + 0.3 * rng.random(n) > 0.7).astype(int), errors, 0
    y, s = _data(task, n, seed)
    return y, s, 3 if task == "multiclass" else 2


@pytest.mark.parametrize("task", list(M.TABLES))
def test_every_metric_point_and_bootstrap_forms_agree(task):
    """The registry's two forms of each metric: the bootstrap form on a resample equals
    the scikit-learn point form with the resample's draw counts as sample weights."""
    y, s, n_classes = _any_task_data(task)
    weights = M.bootstrap_weights(len(y), 3, seed=4)
    table = M.TABLES[task]
    assert sorted(table) == sorted(M.default_metrics(task))
    resampled = M.weighted_metrics(task, y, s, weights, list(table), n_classes, 0.5)
    for name, metric in table.items():
        for b in range(len(weights)):
            expected = metric.point(y, s, 0.5, n_classes, weights[b])
            assert resampled[name][b] == pytest.approx(expected, abs=1e-9), (name, b)
        assert metric.point(y, s, 0.5, n_classes) == pytest.approx(
            metric.point(y, s, 0.5, n_classes, np.ones(len(y))), abs=1e-12
        ), name
