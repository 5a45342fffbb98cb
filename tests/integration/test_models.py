"""Every registered architecture builds for every data kind it declares and every task,
gives outputs of the right shape, and survives a save → safe-mode load round trip
with identical predictions."""

from __future__ import annotations

import numpy as np
import pytest

from dltrain.config.models import AutoencoderConfig, TransformerConfig
from dltrain.errors import ConfigError
from dltrain.models import ARCHITECTURES, InputSpec, OutputSpec, build_model

pytestmark = pytest.mark.slow

VOCAB = 50
SAMPLES = {  # tiny shapes: one sample, without the batch axis
    "tabular": InputSpec((5,), "tabular"),
    "images": InputSpec((16, 16, 1), "images"),
    "signals": InputSpec((32, 2), "signals"),
    "text": InputSpec((12,), "text", vocab_size=VOCAB, dtype="int32"),
    "volumes": InputSpec((8, 8, 8, 1), "volumes"),
}
SMALL = {  # tiny settings per architecture; everything else keeps its default
    "mlp": {"hidden_units": [4]},
    "cnn": {"filters": [4, 8], "dropout": 0.1},
    "cnn1d": {"filters": [4, 8], "dropout": 0.1},
    "cnn3d": {"filters": [2, 4]},
    "fcn": {"filters": [4, 8, 4]},
    "resnet1d": {"filters": [4, 8, 8]},
    "lstm": {"units": [4, 4], "bidirectional": True, "embedding_dim": 4, "dropout": 0.1},
    "gru": {"units": [4], "embedding_dim": 4},
    "transformer": {"d_model": 8, "heads": 2, "ff_dim": 8, "blocks": 1},
    "autoencoder": {"latent": 3, "hidden_units": [8], "filters": [2, 4]},
    "pretrained": {"alpha": 0.35, "weights": None},  # local weights: tests/.../test_pretrained
}
TASKS = {
    "binary": OutputSpec("binary", 1, (0.5,)),
    "multiclass": OutputSpec("multiclass", 3, (-1.0, -1.1, -1.2)),
    "regression": OutputSpec("regression", 1),
}
RECONSTRUCTION = OutputSpec("reconstruction", 0)


def config_for(name: str, **extra):
    entry = ARCHITECTURES.get(name)
    return entry.config_class(**{**SMALL[name], **extra})


def batch(spec: InputSpec, n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    if spec.kind == "text":
        tokens = rng.integers(1, VOCAB, size=(n, *spec.shape)).astype("int32")
        tokens[0, 5:] = 0  # padded
        tokens[1] = 0  # empty text: all padding
        return tokens
    return rng.normal(size=(n, *spec.shape)).astype("float32")


def round_trip(model, x, path):
    """Saves, loads in safe mode, and checks the layer shapes and equal predictions."""
    import keras

    for layer in model.layers:  # what `dltrain check` prints
        assert layer.output.shape is not None
    before = np.asarray(model(x, training=False))
    assert np.isfinite(before).all()
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    after = np.asarray(loaded(x, training=False))
    assert np.array_equal(before, after)
    return before


CASES = [
    pytest.param(name, kind, id=f"{name}-{kind}")
    for name in ARCHITECTURES.names()
    if name != "autoencoder"
    for kind in ARCHITECTURES.get(name).kinds
]


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_supervised_builds_and_round_trips(name, kind, tmp_path):
    spec = SAMPLES[kind]
    x = batch(spec)
    # a pretrained backbone is slow to build on CPU: its head is the shared one, so one task
    tasks = {"binary": TASKS["binary"]} if name == "pretrained" else TASKS
    for task, outputs in tasks.items():
        model = build_model(config_for(name), spec, outputs)
        out = round_trip(model, x, tmp_path / f"{task}.keras")
        assert out.shape == (len(x), outputs.units)
        if task == "binary":
            assert ((out > 0) & (out < 1)).all()
        if task == "multiclass":
            np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


AUTOENCODER_CASES = [
    pytest.param(kind, ae_kind, id=f"{ae_kind}-{kind}")
    for kind in ARCHITECTURES.get("autoencoder").kinds
    for ae_kind in ("dense", "conv")
    if not (kind == "tabular" and ae_kind == "conv")
]


@pytest.mark.parametrize(("kind", "ae_kind"), AUTOENCODER_CASES)
def test_autoencoder_reconstructs_exact_shape_and_round_trips(kind, ae_kind, tmp_path):
    spec = SAMPLES[kind]
    model = build_model(config_for("autoencoder", kind=ae_kind), spec, RECONSTRUCTION)
    x = batch(spec)
    out = round_trip(model, x, tmp_path / "model.keras")
    assert out.shape == x.shape
    encoder = model.get_layer("encoder")
    assert encoder.output.shape == (None, 3)


@pytest.mark.parametrize(
    ("kind", "shape"), [("images", (15, 9)), ("signals", (33,)), ("volumes", (5, 7, 3))]
)
def test_conv_autoencoder_odd_sizes_without_channel_axis(kind, shape):
    spec = InputSpec(shape, kind)
    model = build_model(config_for("autoencoder", kind="conv"), spec, RECONSTRUCTION)
    assert model(batch(spec, 2)).shape == (2, *shape)


def test_conv_autoencoder_refuses_tabular():
    with pytest.raises(ConfigError, match="kind: dense"):
        build_model(config_for("autoencoder", kind="conv"), SAMPLES["tabular"], RECONSTRUCTION)


def test_autoencoder_refuses_a_supervised_task_and_others_refuse_reconstruction():
    with pytest.raises(ConfigError, match="only reconstructs"):
        build_model(AutoencoderConfig(), SAMPLES["tabular"], TASKS["binary"])
    with pytest.raises(ConfigError, match="only the autoencoder"):
        build_model(config_for("mlp"), SAMPLES["tabular"], RECONSTRUCTION)


def test_wrong_sample_shape_is_a_config_error():
    with pytest.raises(ConfigError, match=r"'cnn' needs images of shape"):
        build_model(config_for("cnn"), SAMPLES["tabular"], TASKS["binary"])


@pytest.mark.parametrize("name", ["lstm", "gru", "transformer"])
def test_text_padding_is_masked(name):
    """The embedding of the padding id (0) never reaches the prediction."""
    spec = SAMPLES["text"]
    model = build_model(config_for(name), spec, TASKS["multiclass"])
    x = batch(spec)
    before = np.asarray(model(x))
    embedding = model.get_layer("token_embedding")
    table = np.asarray(embedding.embeddings).copy()
    table[0] = 100.0
    embedding.embeddings.assign(table)
    np.testing.assert_array_equal(np.asarray(model(x)), before)


def test_transformer_cls_pooling_on_text_and_signals(tmp_path):
    config = TransformerConfig(**SMALL["transformer"], pooling="cls")
    for kind in ("text", "signals"):
        spec = SAMPLES[kind]
        model = build_model(config, spec, TASKS["binary"])
        out = round_trip(model, batch(spec), tmp_path / f"{kind}.keras")
        assert out.shape == (4, 1)
