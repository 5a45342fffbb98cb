"""`pretrained`: a `keras.applications` backbone with local weights and a new head.

The model is: input (already normalised per channel with the training statistics by the
wrapper in `training.setup`) → grayscale repeated to RGB → resized up to `min_size` when
smaller → mapped to the per-channel ImageNet mean and spread in the backbone's own input
convention (so the backbone sees inputs distributed as in its pretraining) → the backbone
(nested model "backbone", no classifier) → global average pooling → dropout → the head.

Nothing is downloaded: `weights` is a local file, "imagenet" when the Keras cache already
holds the file, or null.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from dltrain.config.models import PretrainedConfig
from dltrain.errors import ConfigError
from dltrain.models.common import head, spatial_input
from dltrain.models.specs import InputSpec, OutputSpec

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, 0..255
IMAGENET_STD = (58.395, 57.12, 57.375)

# How each backbone wants its input (keras.applications' preprocess_input): the mean and
# standard deviation of ImageNet pixels in those units, and whether channels are BGR.
_RANGE = {
    # "tf" mode: x / 127.5 - 1
    "MobileNetV2": (
        tuple(m / 127.5 - 1 for m in IMAGENET_MEAN),
        tuple(s / 127.5 for s in IMAGENET_STD),
        False,
    ),
    # rescaling and normalisation are inside the network: raw 0..255 RGB
    "EfficientNetB0": (IMAGENET_MEAN, IMAGENET_STD, False),
    # "caffe" mode: BGR, mean subtracted, not scaled
    "ResNet50": ((0.0, 0.0, 0.0), tuple(reversed(IMAGENET_STD)), True),
    # "torch" mode: (x / 255 - mean) / std, i.e. already standardised
    "DenseNet121": None,
}


def imagenet_file(config: PretrainedConfig, size: tuple[int, int]) -> str:
    """The file name Keras gives the backbone's ImageNet weights without the classifier."""
    if config.backbone == "MobileNetV2":
        rows = size[0] if size[0] == size[1] and size[0] in (96, 128, 160, 192, 224) else 224
        alpha = float(config.alpha)
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}_no_top.h5"
    return {
        "EfficientNetB0": "efficientnetb0_notop.h5",
        "ResNet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "DenseNet121": "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
    }[config.backbone]


def keras_cache() -> Path:
    """Where Keras keeps downloaded weights (its `keras_home()/models`)."""
    try:
        from keras.src.backend.config import keras_home

        return Path(keras_home()) / "models"
    except ImportError:  # pragma: no cover - older Keras
        return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "models"


def build(config: PretrainedConfig, inputs: InputSpec, outputs: OutputSpec):
    """Input adaptation → backbone → global average pooling → dropout → the task head."""
    import keras

    inp, x = spatial_input(inputs, 2, "pretrained")
    height, width, channels = x.shape[1:]
    if channels == 1:
        x = keras.layers.Concatenate(name="gray_to_rgb")([x, x, x])
    elif channels != 3:
        raise ConfigError(
            f"backbone {config.backbone} takes grayscale or RGB images; these have "
            f"{channels} channels. Received: shape={tuple(inputs.shape)}"
        )
    size = (max(height, config.min_size), max(width, config.min_size))
    if size != (height, width):
        x = keras.layers.Resizing(*size, interpolation="bilinear", name="resize_up")(x)
    x = _to_backbone_range(x, config.backbone)
    backbone = _backbone(config, (*size, 3))
    x = backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="head_dropout")(x)
    return keras.Model(inp, head(x, outputs), name="pretrained")


def _to_backbone_range(x, backbone: str):
    """Standardised channels → ImageNet's mean and spread in the backbone's units."""
    import keras

    spec = _RANGE[backbone]
    if spec is None:
        return x
    mean, std, bgr = spec
    if bgr:  # a fixed channel permutation; it has no trainable weights once frozen
        perm = keras.layers.Conv2D(
            3,
            1,
            use_bias=False,
            trainable=False,
            name="rgb_to_bgr",
            kernel_initializer=keras.initializers.Constant(
                [[[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]]]
            ),
        )
        x = perm(x)
    return keras.layers.Normalization(
        axis=-1,
        mean=list(mean),
        variance=[s * s for s in std],
        invert=True,
        name="to_backbone_range",
    )(x)


def _backbone(config: PretrainedConfig, shape: tuple[int, int, int]):
    import keras

    apps = keras.applications
    kwargs = {"include_top": False, "input_shape": shape, "name": "backbone"}
    if config.backbone == "MobileNetV2":
        kwargs["alpha"] = config.alpha
    make = getattr(apps, config.backbone)
    weights = config.weights
    if weights == "imagenet":
        cached = keras_cache() / imagenet_file(config, shape[:2])
        if not cached.is_file():
            raise ConfigError(
                f"model.weights: imagenet needs the ImageNet weights of {config.backbone} in "
                f"the Keras cache, {cached}, and this machine cannot download them (no "
                "internet access). Download that file on a machine with internet (it is what "
                f"keras.applications.{config.backbone}(include_top=False, weights='imagenet') "
                "fetches) and copy it there, or set model.weights to a local weights file"
            )
        # Keras finds the cached file itself
        return _loading(lambda: make(weights="imagenet", **kwargs), cached, config, shape)
    model = make(weights=None, **kwargs)
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"model.weights: no weights file at {path} (from the working directory "
                f"{Path.cwd()}); give the path of a {config.backbone} weights file, "
                "'imagenet' or null"
            )
        _loading(lambda: model.load_weights(str(path)), path, config, shape)
    return model


# Keras 3 loads what it can of a weights file that does not fit and only warns, once per
# skipped part ("... will retain their freshly-initialized weights"): a backbone that is
# partly random would train and report as if pretrained.
_PARTIAL = ("freshly-initialized", "Skipping")


def _loading(load, path: Path, config: PretrainedConfig, shape):
    """Runs `load`; a file that does not fit (an error, or a partial load) is a ConfigError."""
    result, reason = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = load()
        except (ValueError, OSError, KeyError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    skipped = [w for w in caught if any(p in str(w.message) for p in _PARTIAL)]
    if reason is None and not skipped:
        for w in caught:  # anything else is Keras's to say, once we stopped recording
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return result
    if reason is None:
        reason = (
            f"{len(skipped)} part(s) of the model would keep random weights "
            f"({str(skipped[0].message).splitlines()[0][:160]})"
        )
    fits = f"input {shape}" + (
        f", alpha {config.alpha}" if config.backbone == "MobileNetV2" else ""
    )
    raise ConfigError(
        f"model.weights: {path} does not fit {config.backbone} without its classifier "
        f"({fits}): {reason}. Use a weights file saved from this backbone with "
        "include_top=False and the same settings"
    )
