"""Volumes: 3-D stacks (CT/MRI, or video as frames x height x width), never resized.

Reading (layouts, checks): `dltrain.kinds.volumes.reader`. File formats of one volume each
(the folder layout): one module each in `dltrain.kinds.volumes.decoders`, whose `decode`
gives the volume, channels last, with its problems.
"""

from __future__ import annotations

from dltrain.config.data import VolumesData
from dltrain.kinds.arrays import ArrayKind


class VolumesKind(ArrayKind):
    name = "volumes"
    config_class = VolumesData
    decoder_package = "dltrain.kinds.volumes.decoders"
    reader = "dltrain.kinds.volumes.reader"

    def augmentation(self, augment: list, seed: int) -> tuple[list, list]:
        import keras

        from dltrain.models.layers import RandomFlip3D

        axes = {"horizontal": (3,), "vertical": (2,), "horizontal_and_vertical": (2, 3)}
        before, after = [], []
        for i, item in enumerate(augment):
            s = seed + 1000 + i
            key, value = next(iter(item.model_dump().items()))
            if key == "noise":
                after.append(keras.layers.GaussianNoise(value, seed=s))
            else:  # flip
                before.append(RandomFlip3D(axes[value], seed=s))
        return before, after

    def sidecar(self, transform) -> list[str]:
        shape = ", ".join(map(str, transform.shape))
        info = transform.info
        steps = []
        if info.get("orientation"):
            steps.append(f"NIfTI: reorient to {info['orientation']}")
        if info.get("window"):
            steps.append(
                f"DICOM: rescale slope/intercept, window {info['window']} to 0..255, MONOCHROME1 "
                "inverted; a series' slices ordered by position along the slice normal"
            )
        if info.get("spacing"):
            steps.append(
                f"voxel spacing (depth, height, width) {info['spacing']} mm, as training used"
            )
        return [*steps, f"volumes of shape (batch, {shape}), float32, not resized otherwise"]


VOLUMES = VolumesKind()
