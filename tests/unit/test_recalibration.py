"""Recalibration on validation (`evaluate.recalibrate`): fitted, applied, stored, refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dltrain import records
from dltrain.config import load_config
from dltrain.errors import ConfigError, RunError
from dltrain.evaluation import calibration
from dltrain.evaluation.metrics import calibration as cal
from tests.conftest import BASIC_CONFIG, write_config


def _overconfident(n=4000, seed=0):
    """Outcomes from the true risks; the model's logit is twice the true one (too extreme)."""
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    return y, 1 / (1 + np.exp(-2 * true_logit))


def test_temperature_undoes_an_overconfident_binary_model():
    y, p = _overconfident()
    params = calibration.fit("temperature", "binary", y, p)
    assert params["method"] == "temperature" and params["fitted_on"] == "val"
    assert params["temperature"] == pytest.approx(2.0, rel=0.1)
    fixed = calibration.apply(params, p)
    assert np.array_equal(np.argsort(fixed), np.argsort(p))  # the ranking is kept
    slope = cal.slopes(y, cal.logit(fixed), np.ones((1, len(y))))[0]
    assert slope == pytest.approx(1.0, abs=0.1)


def test_platt_undoes_a_shifted_and_overconfident_model():
    y, p = _overconfident(seed=1)
    shifted = 1 / (1 + np.exp(-(cal.logit(p) + 1.0)))  # and too high on average
    params = calibration.fit("platt", "binary", y, shifted)
    assert params["slope"] == pytest.approx(0.5, abs=0.06)
    fixed = calibration.apply(params, shifted)
    w = np.ones((1, len(y)))
    assert abs(cal.intercepts(y, cal.logit(fixed), w)[0]) < 0.05
    assert cal.slopes(y, cal.logit(fixed), w)[0] == pytest.approx(1.0, abs=0.1)


def test_platt_stays_finite_on_perfectly_separated_validation():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    params = calibration.fit("platt", "binary", y, p)
    assert np.isfinite([params["slope"], params["intercept"]]).all()
    assert 0 < calibration.apply(params, p).min() < calibration.apply(params, p).max() < 1


def test_temperature_keeps_the_multiclass_decision():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([0.3, 0.3, 0.3], 300)
    y = probs.argmax(axis=1)
    params = calibration.fit("temperature", "multiclass", y, probs)
    fixed = calibration.apply(params, probs)
    assert np.allclose(fixed.sum(axis=1), 1) and (fixed.argmax(1) == probs.argmax(1)).all()
    assert calibration.apply(None, probs) is probs
    assert calibration.fit("none", "multiclass", y, probs) is None


@pytest.mark.parametrize(
    ("method", "task", "message"),
    [
        ("platt", "multiclass", "'platt' applies to binary tasks, not to a multiclass"),
        ("temperature", "regression", "'temperature' applies to binary and multiclass tasks"),
    ],
)  # fmt: skip
def test_a_recalibration_that_does_not_apply_is_a_config_error(workdir, method, task, message):
    config = load_config(write_config(workdir, BASIC_CONFIG + f"  recalibrate: {method}\n"), [])
    with pytest.raises(ConfigError, match=message) as caught:
        calibration.check(config, task)
    assert "exp.yaml" in str(caught.value.where)
    calibration.check(load_config(write_config(workdir, BASIC_CONFIG), []), task)  # none


def test_an_unknown_method_is_refused_by_the_schema(workdir):
    path = write_config(workdir, BASIC_CONFIG + "  recalibrate: isotonic\n")
    with pytest.raises(ConfigError, match="recalibrate"):
        load_config(path, [])


def test_the_map_is_stored_checksummed_and_checked(tmp_path):
    params = {"method": "platt", "fitted_on": "val", "n": 10, "slope": 0.5, "intercept": 0.1}
    calibration.save(tmp_path, params)
    assert calibration.load(tmp_path) == params
    assert "calibration.json" in records.read(tmp_path).files
    assert records.is_intact(tmp_path, "calibration.json")
    (tmp_path / "calibration.json").write_text(json.dumps({**params, "slope": 5.0}))
    with pytest.raises(RunError, match="is damaged"):
        calibration.load(tmp_path)
    assert not records.is_intact(tmp_path, "calibration.json")


def test_a_run_without_recalibration_has_none_and_is_intact(tmp_path):
    calibration.save(tmp_path, None)
    assert calibration.load(tmp_path) is None
    assert records.is_intact(tmp_path, "calibration.json")  # optional: nothing expected
