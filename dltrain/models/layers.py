"""dltrain's own Keras layers: augmentation for signals and volumes.

Images use Keras's own random layers; these fill the gaps. They act only when training
(`training=True`) and draw from a Keras `SeedGenerator`, whose state is a model variable:
augmentation is seeded, saved in resume checkpoints (so a resumed run draws the same
numbers), and inert at inference.

Every class here is registered as a Keras serializable (package "dltrain"), so safe-mode
loading finds it. `dltrain.evaluation.predict.load_model` imports this module before it
loads any model, so a run can be evaluated, predicted with, exported or resumed in a
process that never imported the training code. A new custom layer goes here, never in
training code.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dltrain")
class RandomAmplitude(keras.layers.Layer):
    """Multiplies each series by a random factor in [low, high]."""

    def __init__(self, low=0.9, high=1.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high, self.seed = float(low), float(high), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training:
            return x
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        factor = keras.random.uniform(shape, self.low, self.high, seed=self.seed_generator)
        return x * ops.cast(factor, x.dtype)

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high, "seed": self.seed}


def _positions(batch, length, seed_generator, start_max, scale):
    start = keras.random.uniform((batch, 1), 0.0, 1.0, seed=seed_generator) * start_max
    return start + ops.arange(length, dtype="float32")[None, :] * scale


def _interpolate(x, positions):
    """Linear interpolation of x (batch, length, channels) at fractional positions."""
    length = ops.shape(x)[1]
    low = ops.clip(ops.floor(positions), 0, ops.cast(length - 1, "float32"))
    high = ops.clip(low + 1, 0, ops.cast(length - 1, "float32"))
    weight = ops.expand_dims(positions - low, -1)
    low_i = ops.expand_dims(ops.cast(low, "int32"), -1)
    high_i = ops.expand_dims(ops.cast(high, "int32"), -1)
    channels = ops.shape(x)[2]
    a = ops.take_along_axis(x, ops.repeat(low_i, channels, axis=-1), axis=1)
    b = ops.take_along_axis(x, ops.repeat(high_i, channels, axis=-1), axis=1)
    return a * (1 - weight) + b * weight


@keras.saving.register_keras_serializable(package="dltrain")
class RandomTimeShift(keras.layers.Layer):
    """Circularly shifts each series by up to `fraction` of its length."""

    def __init__(self, fraction=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.fraction, self.seed = float(fraction), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training:
            return x
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        span = self.fraction * ops.cast(length, "float32")
        shift = ops.floor(
            keras.random.uniform((batch, 1), -1.0, 1.0, seed=self.seed_generator) * span
        )
        index = ops.mod(
            ops.arange(length, dtype="float32")[None, :] - shift, ops.cast(length, "float32")
        )
        index = ops.repeat(ops.expand_dims(ops.cast(index, "int32"), -1), ops.shape(x)[2], -1)
        return ops.take_along_axis(x, index, axis=1)

    def get_config(self):
        return {**super().get_config(), "fraction": self.fraction, "seed": self.seed}


@keras.saving.register_keras_serializable(package="dltrain")
class RandomWindow(keras.layers.Layer):
    """Takes a random window of `fraction` of each series and stretches it to full length."""

    def __init__(self, fraction=0.9, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.fraction, self.seed = float(fraction), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training:
            return x
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        n = ops.cast(length, "float32")
        window = self.fraction * (n - 1)
        positions = _positions(
            batch, length, self.seed_generator, (n - 1) - window, window / ops.maximum(n - 1, 1.0)
        )
        return _interpolate(x, positions)

    def get_config(self):
        return {**super().get_config(), "fraction": self.fraction, "seed": self.seed}


@keras.saving.register_keras_serializable(package="dltrain")
class RandomFlip3D(keras.layers.Layer):
    """Flips volumes (batch, depth, height, width, channels) along the chosen axes, each with
    probability 1/2 per sample."""

    def __init__(self, axes=(3,), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.axes, self.seed = tuple(int(a) for a in axes), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training:
            return x
        for axis in self.axes:
            coin = keras.random.uniform((ops.shape(x)[0], 1, 1, 1, 1), seed=self.seed_generator)
            x = ops.where(coin < 0.5, ops.flip(x, axis=axis), x)
        return x

    def get_config(self):
        return {**super().get_config(), "axes": list(self.axes), "seed": self.seed}
