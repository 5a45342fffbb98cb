"""Augmentation for a data kind: which layers, before or after the normalisation.

The layers for signals and volumes are dltrain's own (`dltrain.models.layers`, registered
Keras serializables); images use Keras's own random layers. All are seeded.
"""

from __future__ import annotations

import keras

from dltrain.models.layers import RandomAmplitude, RandomFlip3D, RandomTimeShift, RandomWindow


def layers_for(kind: str, augment: list, seed: int) -> tuple[list, list]:
    """(before normalisation, after normalisation) augmentation layers for a data kind."""
    before, after = [], []
    for i, item in enumerate(augment):
        s = seed + 1000 + i
        key, value = next(iter(item.model_dump().items()))
        if kind == "images":
            before.append(_image_layer(key, value, s))
        elif key == "noise":
            after.append(keras.layers.GaussianNoise(value, seed=s))
        elif key == "scale":
            before.append(RandomAmplitude(value[0], value[1], seed=s))
        elif key == "shift":
            before.append(RandomTimeShift(value, seed=s))
        elif key == "crop":
            before.append(RandomWindow(value, seed=s))
        elif key == "flip":
            axes = {"horizontal": (3,), "vertical": (2,), "horizontal_and_vertical": (2, 3)}
            before.append(RandomFlip3D(axes[value], seed=s))
    return before, after


def _image_layer(key: str, value, seed: int):
    if key == "flip":
        return keras.layers.RandomFlip(value, seed=seed)
    if key == "rotation":
        return keras.layers.RandomRotation(value, seed=seed)
    if key == "zoom":
        return keras.layers.RandomZoom((-value, value), seed=seed)
    if key == "translation":
        return keras.layers.RandomTranslation(value, value, seed=seed)
    if key == "contrast":
        return keras.layers.RandomContrast(value, seed=seed)
    return keras.layers.RandomBrightness(value, value_range=(0.0, 255.0), seed=seed)
