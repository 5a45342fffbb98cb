"""The decision rule: the model against a baseline by a paired bootstrap of the difference."""

from __future__ import annotations

import numpy as np
import pytest

from dltrain.evaluation import decision as D
from dltrain.evaluation import metrics as M

KW = {"n_classes": 2, "n_boot": 300, "confidence": 0.95, "seed": 0}


def _binary(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    good = np.clip(0.6 * y + 0.4 * rng.random(n), 0, 1)
    weak = np.clip(0.15 * y + 0.85 * rng.random(n), 0, 1)
    return y, good, weak


def test_ties_are_no_detectable_difference_never_a_loss():
    """1.000 vs 1.000 (identical perfect scores) and 0.996 vs 0.996 were reported as losses
    by the point-estimate rule; the paired bootstrap calls them what they are."""
    y, good, _ = _binary()
    perfect = y.astype(float)
    d = D.decide("binary", "roc_auc", y, (perfect, 0.5), (perfect.copy(), 0.5), **KW)
    assert d["model"] == d["baseline"] == 1.0
    assert d["difference"] == 0 and d["decision"] == D.TIE
    same = D.decide("binary", "roc_auc", y, (good, 0.5), (good.copy(), 0.5), **KW)
    assert same["decision"] == D.TIE and same["low"] == same["high"] == 0


def test_better_and_worse_need_the_interval_on_one_side():
    y, good, weak = _binary()
    better = D.decide("binary", "roc_auc", y, (good, 0.5), (weak, 0.5), **KW)
    assert better["decision"] == D.BETTER and better["low"] > 0
    assert better["difference"] == pytest.approx(better["model"] - better["baseline"], abs=1e-6)
    worse = D.decide("binary", "roc_auc", y, (weak, 0.5), (good, 0.5), **KW)
    assert worse["decision"] == D.WORSE and worse["high"] < 0


def test_a_small_lead_is_no_detectable_difference():
    """A better point estimate is not a win when the interval of the difference holds 0."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 80)
    shared = y + rng.normal(size=80)  # both models see the same signal, with their own noise
    model, baseline = shared + 0.3 * rng.normal(size=80), shared + 0.3 * rng.normal(size=80)
    d = D.decide("binary", "roc_auc", y, (model, 0.5), (baseline, 0.5), **KW)
    assert d["difference"] != 0 and d["decision"] == D.TIE and d["low"] < 0 < d["high"]


def test_lower_is_better_metrics_decide_the_other_way():
    assert D.rule("mse", -0.2, -0.3, -0.1) == D.BETTER  # the model's error is lower
    assert D.rule("mse", 0.2, 0.1, 0.3) == D.WORSE
    assert D.rule("r2", 0.2, 0.1, 0.3) == D.BETTER
    assert D.rule("r2", None, None, None) == D.UNDEFINED


def test_groups_are_resampled_whole():
    """With groups the paired resamples draw patients, as the split's own intervals do."""
    y, good, weak = _binary(n=120)
    groups = np.repeat(np.arange(12), 10)
    by_group = D.paired_differences(
        "binary", ["roc_auc"], y, (weak, 0.5), (good, 0.5), 2, 100, 0, groups
    )
    by_row = D.paired_differences("binary", ["roc_auc"], y, (weak, 0.5), (good, 0.5), 2, 100, 0)
    weights = M.bootstrap_weights(120, 100, 0, groups)
    on_good = M.weighted_metrics("binary", y, good, weights, ["roc_auc"], 2, 0.5)["roc_auc"]
    on_weak = M.weighted_metrics("binary", y, weak, weights, ["roc_auc"], 2, 0.5)["roc_auc"]
    assert np.allclose(by_group["roc_auc"], on_good - on_weak)
    assert not np.allclose(by_group["roc_auc"], by_row["roc_auc"])


def test_verdict_beats_only_when_better_than_every_baseline():
    better = {"decision": D.BETTER}
    tie = {"decision": D.TIE}
    assert D.verdict({"majority": better, "logistic": better})[0]
    beats, named = D.verdict({"majority": better, "logistic": tie})
    assert not beats and named[D.TIE] == ["logistic"]
    assert not D.verdict({})[0]
