"""Transfer learning: `pretrained` backbones with local weights, and two-stage fine-tuning.

Backbones are built with random weights (`weights=None`) at 32x32, saved to a local file
and given to the config as `model.weights`; nothing is downloaded.
"""

from __future__ import annotations

import io
import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from dltrain.config.models import PretrainedConfig
from dltrain.errors import ConfigError
from dltrain.models import InputSpec, OutputSpec, build_model
from tests.conftest import write_config
from tests.integration.test_kinds import make_images

GRAY = InputSpec((12, 12, 1), "images")
BINARY = OutputSpec("binary", 1, (0.0,))


def _saved_backbone(folder, backbone: str, **kwargs):
    import keras

    model = getattr(keras.applications, backbone)(
        include_top=False, weights=None, input_shape=(32, 32, 3), **kwargs
    )
    path = folder / f"{backbone}.weights.h5"
    model.save_weights(path)
    return model, path


def _backbone(model):
    return model.get_layer("backbone")


def test_backbones_build_and_adapt_small_gray_images(tmp_path):
    """All four backbones build on 12x12 grayscale images (shapes only for the big ones);
    MobileNetV2 loads every weight of a local weights file."""
    for backbone in ("EfficientNetB0", "ResNet50", "DenseNet121"):
        model = build_model(PretrainedConfig(backbone=backbone, weights=None), GRAY, BINARY)
        assert model.output.shape == (None, 1)
        assert _backbone(model).input.shape == (None, 32, 32, 3)
        names = [layer.name for layer in model.layers]
        # DenseNet121 wants standardised input ("torch" mode): no mapping layer
        assert ("to_backbone_range" in names) == (backbone != "DenseNet121")
        assert ("rgb_to_bgr" in names) == (backbone == "ResNet50")  # "caffe" mode is BGR
    source, path = _saved_backbone(tmp_path, "MobileNetV2", alpha=0.35)
    model = build_model(PretrainedConfig(weights=str(path), alpha=0.35), GRAY, BINARY)
    assert model.get_layer("gray_to_rgb") and model.get_layer("resize_up")
    for mine, theirs in zip(_backbone(model).weights, source.weights, strict=True):
        assert np.array_equal(mine.numpy(), theirs.numpy())  # the file's weights, all of them
    x = np.random.default_rng(0).normal(size=(2, 12, 12, 1)).astype("float32")
    assert np.isfinite(np.asarray(model(x, training=False))).all()

    # What stage 2 unfreezes: the last K layers with weights, or a name pattern; never the
    # batch-norm layers unless asked.
    from types import SimpleNamespace

    from dltrain.config.train import FineTune
    from dltrain.training import stages

    def chosen(**kwargs):
        config = SimpleNamespace(
            train=SimpleNamespace(fine_tune=FineTune(**kwargs)), where=lambda key: None
        )
        return [layer.name for layer in stages.unfrozen(config, _backbone(model))]

    assert chosen(unfreeze=3) == ["Conv_1"]  # of the last 3, the batch-norm layers stay frozen
    assert chosen(unfreeze=3, batch_norm=True) == ["block_16_project_BN", "Conv_1", "Conv_1_bn"]
    assert chosen(unfreeze="block_16_*") == [
        "block_16_expand",
        "block_16_depthwise",
        "block_16_project",
    ]
    assert len(chosen(unfreeze="all")) == 52  # every conv layer of MobileNetV2, no BN
    assert len(chosen(unfreeze="all", batch_norm=True)) == 104


def test_weights_errors_and_the_keras_cache(tmp_path, monkeypatch):
    import keras

    monkeypatch.setattr("keras.src.backend.config._KERAS_DIR", str(tmp_path / "keras"))
    config = PretrainedConfig(alpha=0.35, weights="imagenet")
    with pytest.raises(ConfigError) as info:
        build_model(config, GRAY, BINARY)
    message = str(info.value)
    assert "cannot download" in message and "no internet" in message
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    cached = tmp_path / "keras" / "models" / name
    assert str(cached) in message
    # A user-placed ImageNet file in the Keras cache is honoured (legacy .h5, as Keras ships it)
    source = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.35
    )
    cached.parent.mkdir(parents=True)
    source.save(cached)
    model = build_model(config, GRAY, BINARY)
    assert np.array_equal(_backbone(model).weights[0].numpy(), source.weights[0].numpy())

    with pytest.raises(ConfigError, match="no weights file at"):
        build_model(PretrainedConfig(alpha=0.35, weights=str(tmp_path / "nope.h5")), GRAY, BINARY)
    _, other = _saved_backbone(tmp_path, "MobileNetV2", alpha=0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ConfigError, match="does not fit MobileNetV2") as info:
            build_model(PretrainedConfig(alpha=0.35, weights=str(other)), GRAY, BINARY)
    assert "alpha 0.35" in str(info.value) and "include_top=False" in str(info.value)
    # one clear error, not Keras's 130 "Skipping nested container" warnings before it
    assert not [w for w in caught if "Skipping" in str(w.message)]
    with pytest.raises(ConfigError, match="grayscale or RGB"):
        build_model(PretrainedConfig(weights=None), InputSpec((12, 12, 2), "images"), BINARY)


FT_CONFIG = """
name: ft
seed: 1
data: {kind: images, path: imgs, size: [12, 12]}
model: {architecture: pretrained, backbone: MobileNetV2, alpha: 0.35, weights: WEIGHTS,
        dropout: 0.0}
train:
  epochs: 2
  batch_size: 8
  sanity: false
  early_stopping: null
  optimizer: {learning_rate: 0.01}
  fine_tune: {frozen_epochs: 1, unfreeze: all, learning_rate: 0.001}
evaluate: {bootstrap: 20}
"""


def _checkpoint(run, epoch: int) -> list[np.ndarray]:
    data = (run / "checkpoints" / f"state-{epoch:06d}-000000.npz").read_bytes()
    with np.load(io.BytesIO(data)) as f:
        return [f[k] for k in sorted(f.files) if k.startswith("v")]


@pytest.mark.slow
def test_two_stage_fine_tuning_freezes_then_unfreezes(workdir, cli):
    import keras

    make_images(workdir / "imgs", per_class=10)
    source, weights = _saved_backbone(workdir, "MobileNetV2", alpha=0.35)
    config = write_config(workdir, FT_CONFIG.replace("WEIGHTS", str(weights)))
    result = cli("train", config)
    assert result.exit_code == 0, result.output
    run = workdir / "runs/ft-1"
    history = pd.read_csv(run / "history.csv")
    assert history.stage.tolist() == [1, 2]
    report = (run / "report.html").read_text()
    assert "Training stages" in report and "backbone unfrozen: all" in report

    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    backbone = model.get_layer("pretrained").get_layer("backbone")
    position = {id(v): i for i, v in enumerate(model.variables)}
    initial = {id(v): s for v, s in zip(backbone.variables, source.variables, strict=True)}
    after = {1: _checkpoint(run, 1), 2: _checkpoint(run, 2)}
    kernels = batch_norm = 0
    for v in backbone.variables:
        start = initial[id(v)].numpy()
        assert np.array_equal(after[1][position[id(v)]], start), v.path  # stage 1: frozen
        moved = not np.array_equal(after[2][position[id(v)]], start)
        if "moving" in v.path:
            batch_norm += moved  # stage 2: batch norm stays in inference mode
        elif v.path.endswith("kernel"):
            kernels += moved
    assert batch_norm == 0 and kernels > 20  # stage 2: the unfrozen backbone learns
    head = position[id(model.get_layer("pretrained").get_layer("output").kernel)]
    assert not np.array_equal(after[1][head], after[2][head])


def resume_from_first_epoch(workdir, cli, name: str, copy_name: str) -> None:
    """Copies a finished two-stage run, cuts it back to its checkpoint after epoch 1 (the
    last of stage 1), resumes it, and checks it ends bit-identical to the original."""
    import keras

    run, copy = workdir / "runs" / name, workdir / "runs" / copy_name
    shutil.copytree(run, copy)
    manifest = json.loads((copy / "checkpoints/manifest.json").read_text())
    manifest["checkpoints"] = [c for c in manifest["checkpoints"] if c["epoch"] == 1]
    (copy / "checkpoints/manifest.json").write_text(json.dumps(manifest))
    for later in (copy / "checkpoints").glob("state-*.npz"):
        if not later.name.startswith("state-000001-"):
            later.unlink()
    (copy / "model.keras").unlink()
    (copy / "status.json").write_text(json.dumps({"status": "interrupted"}))
    resumed = cli("resume", copy_name)
    assert resumed.exit_code == 0, resumed.output
    assert (copy / "history.csv").read_text() == (run / "history.csv").read_text()
    ref = keras.saving.load_model(run / "model.keras").get_weights()
    got = keras.saving.load_model(copy / "model.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(ref, got, strict=True))


def test_fine_tune_config_errors(workdir, cli):
    make_images(workdir / "imgs", per_class=8)
    config = write_config(workdir, FT_CONFIG.replace("WEIGHTS", "null"))
    too_long = cli("train", config, "--set", "train.fine_tune.frozen_epochs=3")
    assert too_long.exit_code == 2 and "frozen_epochs must be less than epochs" in too_long.output
    pattern = cli("train", config, "--set", "train.fine_tune.unfreeze=nothing_*")
    assert pattern.exit_code == 2 and "matches no layer of the backbone" in pattern.output
    plain = cli("train", config, "--set", "model={architecture: cnn, filters: [4]}")
    assert plain.exit_code == 2 and "needs a model with a backbone" in plain.output
    missing = cli("train", config, "--set", "model.weights=imagenet_missing.h5")
    assert missing.exit_code == 2 and "no weights file at imagenet_missing.h5" in missing.output


def test_a_partly_loaded_backbone_is_an_error(tmp_path):
    # Keras may load what fits and only warn about the rest: that backbone would be
    # partly random while the run says "pretrained".
    from dltrain.models import pretrained

    def partial():
        warnings.warn("Layers will retain their freshly-initialized weights.", stacklevel=1)

    with pytest.raises(ConfigError, match=r"1 part\(s\) of the model would keep random"):
        pretrained._loading(partial, tmp_path / "w.h5", PretrainedConfig(), (32, 32, 3))

    def fine():
        warnings.warn("an unrelated note", UserWarning, stacklevel=1)
        return "model"

    with pytest.warns(UserWarning, match="an unrelated note"):  # passed on, once
        assert pretrained._loading(fine, tmp_path / "w.h5", PretrainedConfig(), (32, 32, 3))
