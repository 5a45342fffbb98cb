"""The sanity suite's rules on made-up numbers: the budget, each check's thresholds (a
healthy case that must PASS, broken ones that must WARN or FAIL, too few steps that must
say "inconclusive"), the per-sample losses, the leak check and the verdict cache.
No model is trained here (tests/integration/test_check.py runs the suite itself)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dltrain.training import sanity_cache, sanity_data, sanity_fit
from dltrain.training.sanity_fit import Budget, Trace
from dltrain.training.verdict import Check

# ----------------------------------------------------------------------------- budget


def test_a_slow_model_gets_fewer_steps():
    fast = Budget(run_steps=150, per_call=16, step_seconds=0.002)
    slow = Budget(run_steps=150, per_call=16, step_seconds=0.1)
    assert fast.total() == 512  # 2 s at 2 ms: capped
    assert slow.total() == 64  # 2 s at 100 ms = 20 steps: the floor of 64
    assert slow.overfit() == 32 and slow.arm() == 64  # nothing used yet
    slow.used["overfit_batch"] = 32
    assert slow.arm() == 32
    assert "budget 64 steps" in slow.describe() and "ms" not in slow.describe()  # reproducible


def test_a_long_run_gets_a_tenth_of_its_steps_in_powers_of_two():
    assert Budget(run_steps=3000, per_call=16, step_seconds=0.1).total() == 256
    assert Budget(run_steps=3000, per_call=16, step_seconds=0.1 * 1.05).total() == 256
    assert Budget(run_steps=100_000, per_call=16, step_seconds=1.0).total() == 512
    one = Budget(run_steps=10, per_call=1, step_seconds=1.0)  # steps_per_execution 1
    assert one.total() == 64 and one.overfit() == 32


# ----------------------------------------------------------------------------- overfit_batch


def _overfit(points, inference=None):
    budget = Budget(run_steps=1000, per_call=16, step_seconds=0.01)
    return sanity_fit._overfit_verdict(Trace(points), inference, 16, budget)


def _falling(start, end, steps, every=16):
    xs = list(range(0, steps + 1, every))
    return [(x, start + (end - start) * x / steps) for x in xs]


def test_overfit_passes_when_the_batch_loss_falls_to_a_tenth():
    check = _overfit(_falling(0.69, 0.06, 64))
    assert check.verdict == "PASS" and check.steps == 64
    assert "64 steps" in check.detail
    regression = _overfit(_falling(1.0, 0.09, 64))  # a tenth of a standardised target's 1.0
    assert regression.verdict == "PASS"
    # dropout keeps the training loss up; what the model memorised is measured without it
    assert _overfit(_falling(0.69, 0.3, 256), inference=0.02).verdict == "PASS"


@pytest.mark.parametrize(
    ("points", "words"),
    [
        ([(0, 0.69), (16, math.nan)], "NaN"),
        ([(0, 0.69), (16, 18.5), (32, 0.0001)], "rose"),  # a huge step that then memorised
        (_falling(0.69, 0.6899, 64), "did not move"),  # learning rate 1e-9
        (_falling(0.69, 0.66, 128), "did not go down"),
    ],
)
def test_overfit_fails_on_a_broken_training(points, words):
    check = _overfit(points)
    assert check.verdict == "FAIL" and words in check.detail
    assert "Check the learning rate" in check.detail


def test_overfit_warns_only_on_a_plateau_and_is_inconclusive_while_still_falling():
    plateau = _falling(0.69, 0.3, 96) + [(112, 0.3), (128, 0.299), (144, 0.3)]
    assert _overfit(plateau).verdict == "WARN"
    still_falling = _falling(0.69, 0.3, 256)
    check = _overfit(still_falling)
    assert check.verdict == "INFO" and check.detail.startswith("inconclusive")
    few = _falling(0.69, 0.62, 32)  # a slow model's 32 steps: no FAIL on so little
    assert _overfit(few).verdict == "INFO"


# ----------------------------------------------------------------------------- input_independent


def _independence(points):
    return sanity_fit._independence(points, points[-1][0] if points else 0, Budget(200, 16, 0.01))


def test_input_independent_passes_when_validation_beats_the_blind_loss():
    check = _independence([(64, 0.50, 0.69, 4.2, 0.45, 0.69, 6.0)])
    assert check.verdict == "PASS" and check.value == 0.5 and check.expected == "< 0.6900"
    assert check.steps == 64 and "64 steps" in check.detail


def test_input_independent_warns_when_only_the_training_labels_are_learned():
    # shuffled labels: the training samples' loss falls below blind, validation's does not
    points = [(32, 0.70, 0.69, -0.5, 0.66, 0.69, 1.0), (64, 0.75, 0.69, -2.0, 0.50, 0.69, 5.0)]
    check = _independence(points)
    assert check.verdict == "WARN" and "a shift by one" in check.detail


def test_input_independent_is_inconclusive_without_evidence_either_way():
    check = _independence([(64, 0.68, 0.69, 1.1, 0.68, 0.69, 1.5)])
    assert check.verdict == "INFO" and check.detail.startswith("inconclusive")
    assert _independence([]).verdict == "WARN"  # diverged before the first evaluation


def test_constant_inputs_warn_without_training():
    zeros = SimpleNamespace(x=np.zeros((20, 5), "float32"), y=np.arange(20) % 2)
    check = sanity_fit.input_independent(
        None, None, "binary_crossentropy", 2, zeros, zeros, None, None
    )
    assert check.verdict == "WARN" and check.steps == 0 and "every training input" in check.detail


# ----------------------------------------------------------------------------- losses


def test_per_sample_losses_follow_keras_formulas():
    bce = sanity_fit.per_sample_loss("binary_crossentropy", np.array([0, 1]), np.full((2, 1), 0.5))
    np.testing.assert_allclose(bce, [math.log(2)] * 2)
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    sce = sanity_fit.per_sample_loss("sparse_categorical_crossentropy", np.array([1, 0]), p)
    np.testing.assert_allclose(sce, [-math.log(0.8), math.log(2)])
    mse = sanity_fit.per_sample_loss("mean_squared_error", np.zeros((2, 3)), np.ones((2, 3)))
    np.testing.assert_allclose(mse, [1.0, 1.0])


def test_the_blind_prediction_is_the_training_priors_or_mean():
    priors = sanity_fit.blind_prediction("sparse_categorical_crossentropy", [0, 0, 1, 2], 3, (5, 3))
    np.testing.assert_allclose(priors[0], [0.5, 0.25, 0.25])
    mean = sanity_fit.blind_prediction("binary_crossentropy", np.array([0, 1, 1, 1]), 2, (2, 1))
    np.testing.assert_allclose(mean, [[0.75], [0.75]])
    y = np.array([0, 1] * 50)
    good = np.where(y == 1, 0.9, 0.1)[:, None]
    model, blind, z = sanity_fit.gain("binary_crossentropy", y, good, np.full((100, 1), 0.5))
    assert model < blind and z > sanity_fit.Z


# ----------------------------------------------------------------------------- leaking_feature


def _split(x, y):
    return SimpleNamespace(stored=SimpleNamespace(x=x, y=y))


def test_a_column_that_is_the_target_in_disguise_is_flagged():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = rng.normal(size=(300, 4)) + 0.5 * y[:, None]  # informative, not perfect
    transform = SimpleNamespace(feature_names=["a", "b", "c", "d"])
    healthy = sanity_data.leaking_feature(
        "multiclass", _split(x[:200], y[:200]), _split(x[200:], y[200:]), transform
    )
    assert healthy.verdict == "PASS" and healthy.value < sanity_data.LEAK
    leak = np.c_[x, y + 0.05 * rng.normal(size=300)]
    transform.feature_names.append("leak")
    bad = sanity_data.leaking_feature(
        "multiclass", _split(leak[:200], y[:200]), _split(leak[200:], y[200:]), transform
    )
    assert bad.verdict == "WARN" and "'leak'" in bad.detail


def test_a_regression_leak_is_flagged_by_rank_correlation():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    x = np.c_[rng.normal(size=200), y + 0.05 * rng.normal(size=200)]
    transform = SimpleNamespace(feature_names=["noise", "leak"])
    check = sanity_data.leaking_feature(
        "regression", _split(x[:150], y[:150]), _split(x[150:], y[150:]), transform
    )
    assert check.verdict == "WARN" and "'leak'" in check.detail
    fine = sanity_data.leaking_feature(
        "regression", _split(x[:150, :1], y[:150]), _split(x[150:, :1], y[150:]), transform
    )
    assert fine.verdict == "PASS"


# ----------------------------------------------------------------------------- cache


def _config(**changes):
    from dltrain.config import ExperimentConfig

    raw = {
        "name": "demo",
        "seed": 3,
        "data": {"kind": "tabular", "path": "t.csv", "target": "y"},
        "model": {"architecture": "mlp", "hidden_units": [8]},
        "train": {"epochs": 2, "batch_size": 16},
    }
    for path, value in changes.items():
        section, key = path.split(".")
        raw[section][key] = value
    return ExperimentConfig.model_validate(raw)


def test_the_cache_key_follows_what_the_suite_depends_on(tmp_path):
    data = SimpleNamespace(path=tmp_path / "demo-0123456789abcdef")
    key = sanity_cache.key(_config(), data)
    assert key == sanity_cache.key(_config(), data)
    assert key == sanity_cache.key(_config(**{"train.early_stopping": None}), data)
    for changed in (
        {"model.hidden_units": [4]},
        {"train.epochs": 3},
        {"train.optimizer": {"name": "sgd"}},
    ):
        assert sanity_cache.key(_config(**changed), data) != key, changed
    other_data = SimpleNamespace(path=tmp_path / "demo-fedcba9876543210")
    assert sanity_cache.key(_config(), other_data) != key
    seeded = _config()
    assert sanity_cache.key(seeded.model_copy(update={"seed": 4}), data) != key


def test_cached_verdicts_come_back_marked(tmp_path):
    data = SimpleNamespace(path=tmp_path)
    checks = [Check("overfit_batch", "PASS", 0.01, "< 0.05", "fell.", 64)]
    assert sanity_cache.load(data, "k") is None
    assert sanity_cache.store(data, "k", checks)
    (back,) = sanity_cache.load(data, "k")
    assert back.cached and back.steps == 64 and back.detail.startswith("Cached")
    assert Path(sanity_cache.path(data, "k")).parent == tmp_path / "sanity"
    sanity_cache.path(data, "k").write_text("{not json")
    assert sanity_cache.load(data, "k") is None  # damaged: the suite runs again


def test_an_unwritable_cache_does_not_stop_the_run(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the cache folder should be
    assert not sanity_cache.store(SimpleNamespace(path=blocked), "k", [])


# ----------------------------------------------------------------------------- after training


def test_after_training_the_model_must_beat_ignoring_its_inputs():
    from dltrain import tasks

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 200)
    y_train = rng.integers(0, 2, 300)
    learned = np.clip(np.where(truth == 1, 0.8, 0.2) + 0.05 * rng.normal(size=200), 0.01, 0.99)
    check = sanity_fit.learned_from_inputs(tasks.get("binary"), ["a", "b"], y_train, truth, learned)
    assert check.verdict == "PASS"
    noise = np.clip(0.5 + 0.3 * rng.normal(size=200), 0.01, 0.99)  # fitted shuffled labels
    check = sanity_fit.learned_from_inputs(tasks.get("binary"), ["a", "b"], y_train, truth, noise)
    assert check.verdict == "WARN" and "a shift by one" in check.detail
    y = rng.normal(size=100)
    barely = y * 0.1 + rng.normal(size=100)  # a regression a little better than the mean
    check = sanity_fit.learned_from_inputs(
        tasks.get("regression"), [], rng.normal(size=50), y, barely
    )
    assert check.verdict in ("WARN", "INFO")


def test_after_training_reads_classes_named_by_numbers(tmp_path):
    from dltrain.training import sanity

    (tmp_path / "predictions").mkdir()
    rows = ["id,row,true,predicted,prob_0,prob_1,prob_2"]
    rows += [f"{i},{i},{i % 3},{i % 3},0.8,0.1,0.1" for i in range(30)]
    (tmp_path / "predictions" / "val.csv").write_text("\n".join(rows) + "\n")
    (check,) = sanity.after_training("multiclass", tmp_path, ["0", "1", "2"], np.arange(30) % 3)
    assert check.name == "learned_from_inputs" and check.verdict == "WARN"
