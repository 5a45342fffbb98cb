"""The speed settings `train: auto` resolves to, and what a user can override."""

from __future__ import annotations

import keras
import pytest

from dltrain.config import load_config
from dltrain.training import setup
from tests.conftest import write_config

CONFIG = """
name: speed
data: {kind: signals, path: x.npy, labels: y.csv}
model: {architecture: ARCH}
"""


def _config(workdir, architecture: str, *overrides: str):
    path = write_config(workdir, CONFIG.replace("ARCH", architecture))
    return load_config(path, list(overrides))


@pytest.mark.parametrize(
    ("architecture", "jit"),
    [("lstm", True), ("gru", True), ("cnn1d", False), ("transformer", False), ("fcn", False)],
)
def test_auto_jit_follows_the_measurements_on_a_cpu(workdir, architecture, jit):
    assert not setup.on_gpu()  # CI and these machines have no GPU
    config = _config(workdir, architecture, "train.deterministic=false")
    assert setup.jit_compile(config) is jit
    # Keras runs no XLA under op determinism (the default), so auto is off then
    assert setup.jit_compile(_config(workdir, architecture)) is False


def test_jit_with_determinism_is_a_config_error(workdir, cli):
    path = write_config(workdir, CONFIG.replace("ARCH", "lstm"))
    result = cli("check", path, "--set", "train.jit_compile=true")
    assert result.exit_code == 2
    text = result.output.replace("\n", " ")
    assert "train: jit_compile: true cannot work with deterministic: true" in text
    assert "Set train.deterministic: false" in text


def test_explicit_speed_settings_win(workdir):
    config = _config(workdir, "lstm", "train.jit_compile=false", "train.steps_per_execution=3")
    assert setup.jit_compile(config) is False
    assert setup.steps_per_execution(config) == 3
    assert setup.steps_per_execution(_config(workdir, "lstm")) == setup.STEPS_PER_EXECUTION


def test_a_bad_speed_setting_is_a_config_error(workdir, cli):
    path = write_config(workdir, CONFIG.replace("ARCH", "lstm"))
    result = cli("check", path, "--set", "train.steps_per_execution=0")
    assert result.exit_code == 2
    assert "train.steps_per_execution" in result.output


def test_mixed_precision_on_a_cpu_warns_and_stays_float32(workdir, capsys):
    setup._warned_precision = False
    config = _config(workdir, "lstm", "train.mixed_precision=true")
    try:
        assert setup.precision_policy(config) == "float32"
        assert setup.precision_policy(config) == "float32"  # warned once, not per model
    finally:
        keras.mixed_precision.set_global_policy("float32")
    err = capsys.readouterr()
    text = (err.out + err.err).replace("\n", " ")
    assert text.count("no GPU") == 1
