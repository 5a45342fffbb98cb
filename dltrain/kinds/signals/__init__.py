"""Signals: 1-D series with one or more channels (leads), brought to one length.

Reading (layouts, checks, length fitting): `dltrain.kinds.signals.reader`. Record file
formats (the folder layout): one module each in `dltrain.kinds.signals.decoders`, whose
`decode` gives a record as float64 (length, channels) with its problems.
"""

from __future__ import annotations

from dltrain.config.data import SignalsData
from dltrain.kinds.arrays import ArrayKind


class SignalsKind(ArrayKind):
    name = "signals"
    config_class = SignalsData
    decoder_package = "dltrain.kinds.signals.decoders"
    reader = "dltrain.kinds.signals.reader"

    def augmentation(self, augment: list, seed: int) -> tuple[list, list]:
        import keras

        from dltrain.models.layers import RandomAmplitude, RandomTimeShift, RandomWindow

        before, after = [], []
        for i, item in enumerate(augment):
            s = seed + 1000 + i
            key, value = next(iter(item.model_dump().items()))
            if key == "noise":
                after.append(keras.layers.GaussianNoise(value, seed=s))
            elif key == "scale":
                before.append(RandomAmplitude(value[0], value[1], seed=s))
            elif key == "shift":
                before.append(RandomTimeShift(value, seed=s))
            else:  # crop
                before.append(RandomWindow(value, seed=s))
        return before, after

    def fitted_options(self, transform) -> dict:
        return {"length": int(transform.shape[0])}

    def sidecar(self, transform) -> list[str]:
        length, channels = transform.shape
        info = transform.info
        steps = []
        if info.get("rate") is not None:
            steps.append(
                f"channels {info.get('channels')} in this order, resampled to {info['rate']:g} Hz "
                "(scipy.signal.resample_poly), physical units as the WFDB/EDF header gives them"
            )
        if info.get("segments"):
            seg = info["segments"]
            steps.append(f"cut each record into segments as in training: {seg}")
        return [
            *steps,
            f"series of shape (batch, {length}, {channels}), float32",
            f"bring each series to {length} samples as in training "
            f"({transform.info.get('fit', 'pad')}: pad = zero-pad or cut the end, crop = cut "
            "the end, resample = linear interpolation)",
        ]


SIGNALS = SignalsKind()
