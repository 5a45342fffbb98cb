"""The speed settings `train: auto` resolves to, and what a user can override."""

from __future__ import annotations

import keras
import pytest

from dltrain.config import load_config
from dltrain.training import framework, setup
from dltrain.training.events import Listener
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
    if framework.on_gpu():  # the measurements behind "auto" were made on a CPU
        pytest.skip("this machine has a GPU; jit_compile auto on a CPU is not what runs here")
    config = _config(workdir, architecture, "train.deterministic=false")
    assert setup.jit_compile(config) is jit
    # the same under op determinism (the default): XLA on a CPU reruns bit-exactly
    assert setup.jit_compile(_config(workdir, architecture)) is jit
    # a short run (and the sanity suite) does not pay back XLA's compile time
    assert setup.jit_compile(config, setup.XLA_MIN_STEPS) is jit
    assert setup.jit_compile(config, setup.XLA_MIN_STEPS - 1) is False
    spread = _config(workdir, architecture, "train.distribute=mirrored")
    assert setup.jit_compile(spread) is False  # XLA with tf.distribute: not measured


def test_jit_with_determinism_on_a_gpu_is_a_config_error(workdir, monkeypatch):
    from dltrain.errors import ConfigError

    config = _config(workdir, "lstm", "train.jit_compile=true")
    if not framework.on_gpu():
        assert setup.jit_compile(config) is True  # a CPU: XLA under op determinism is exact
    monkeypatch.setattr(framework, "on_gpu", lambda: True)
    with pytest.raises(ConfigError, match="cannot work with train.deterministic: true on a GPU"):
        setup.jit_compile(config)
    free = _config(workdir, "lstm", "train.jit_compile=true", "train.deterministic=false")
    assert setup.jit_compile(free) is True


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


def test_mixed_precision_on_a_cpu_warns_and_stays_float32(workdir):
    if framework.on_gpu():
        pytest.skip("this machine has a GPU: mixed precision applies here")
    warned = []

    class Seen(Listener):
        def warn(self, message):
            warned.append(message)

    config = _config(workdir, "lstm", "train.mixed_precision=true")
    before = keras.mixed_precision.global_policy().name
    with framework.configured(config, Seen()):
        assert keras.mixed_precision.global_policy().name == "float32"
    assert keras.mixed_precision.global_policy().name == before  # restored
    assert len(warned) == 1 and "no GPU" in warned[0]


NOTES = """
name: notes
seed: 2
data: {kind: text, path: notes.csv, max_tokens: 50, max_length: 8}
model: {architecture: gru, units: [4], embedding_dim: 8}
train: {epochs: 2, batch_size: 8, sanity: false, early_stopping: null,
        jit_compile: true}
evaluate: {bootstrap: 20}
"""


@pytest.mark.slow
def test_xla_under_determinism_resumes_bit_exactly(workdir, cli):
    # Keras refuses XLA while op determinism is on; dltrain compiles with XLA anyway on a
    # CPU (asked for, or auto for long lstm/gru runs): right only if a resume is bit-exact.
    from tensorflow.python.framework import config as tf_config

    from tests.integration.test_kinds import make_notes
    from tests.integration.test_pretrained import resume_from_first_epoch

    make_notes(workdir / "notes.csv", per_class=24, words=7)
    config = write_config(workdir, NOTES)
    before = tf_config.is_op_determinism_enabled()
    result = cli("train", config)
    assert result.exit_code == 0, result.output
    assert tf_config.is_op_determinism_enabled() == before  # the run's setting is undone
    # epoch 2 again in a second model, compiled anew from the epoch-1 checkpoint
    resume_from_first_epoch(workdir, cli, "notes-1", "notes-copy")  # bit-exact, or fails

    from dltrain.data.cache import preprocess

    cfg = load_config(config)
    data = preprocess(cfg)
    with framework.configured(cfg):
        model = setup.new_model(cfg, "binary", data.transform, data.sample("train").y, 2, 12)
        assert tf_config.is_op_determinism_enabled()  # on again after the compile
    assert model.jit_compile is True  # the runs above did use XLA, under op determinism
