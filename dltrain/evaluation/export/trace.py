"""The run's model as the inference graph that the converters trace, and their logging."""

from __future__ import annotations

import contextlib

import numpy as np


def inference_model(model, *, for_onnx: bool = False):
    """The run's model as a graph called with `training=False` (augmentation and dropout off).

    For ONNX, each Normalization layer is replaced by the equivalent Rescaling
    (`x * 1/std - mean/std`): Keras keeps a Normalization's mean and variance as eager
    tensors, which tf2onnx turns into extra graph inputs instead of constants.
    """
    import keras

    def call(layer, *args, **kwargs):
        if for_onnx and isinstance(layer, keras.layers.Normalization):
            return _as_rescaling(layer)(*args, **kwargs)
        return layer(*args, **kwargs)

    core = model
    if for_onnx:
        core = keras.models.clone_model(
            model, clone_function=lambda layer: layer, call_function=call, recursive=True
        )
    spec = model.inputs[0]
    inp = keras.Input(tuple(spec.shape[1:]), dtype=spec.dtype, name="inputs")
    wrapper = keras.Model(inp, core(inp, training=False), name=f"{model.name}_inference")
    wrapper(np.zeros((1, *spec.shape[1:]), dtype=spec.dtype))  # exporters need a called model
    return wrapper


def _as_rescaling(layer):
    import keras

    mean = np.asarray(layer.mean, dtype="float64").reshape(-1)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, dtype="float64").reshape(-1)), 1e-7)
    if layer.invert:
        scale, offset = std, mean
    else:
        scale, offset = 1.0 / std, -mean / std
    return keras.layers.Rescaling(
        scale=scale.astype("float32").tolist(),
        offset=offset.astype("float32").tolist(),
        name=f"{layer.name}_as_rescaling",
    )


@contextlib.contextmanager
def quiet():
    """Keeps the converters' INFO/WARNING logging (tf2onnx, absl) off the terminal."""
    import logging
    import warnings

    names = ("tf2onnx", "absl", "tensorflow")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


def keras_outputs(model, x: np.ndarray) -> np.ndarray:
    """A Keras model's outputs on `x`, as at inference (`training=False`)."""
    return np.asarray(model(x, training=False))
