"""Voxel spacing: volumes resampled to the spacing `data.spacing` asks for.

Linear interpolation (`scipy.ndimage.zoom`, order 1, grid corners aligned), axis by axis
in the kind's order (depth, height, width); channels are left alone. The new size of an
axis is round(size x spacing / target), at least 1.
"""

from __future__ import annotations


def resample(values, spacing, target):
    """`values` (depth, height, width, channels) from `spacing` to `target` (mm, same order).

    Returns:
        (float32 array, the spacing reached: the target, or `spacing` when no target).
    """
    import numpy as np

    if target is None or spacing is None:
        return values.astype("float32", copy=False), spacing
    from scipy import ndimage

    shape = values.shape[:3]
    new = [max(1, int(round(n * s / t))) for n, s, t in zip(shape, spacing, target, strict=True)]
    if list(shape) == new:
        return values.astype("float32", copy=False), [float(t) for t in target]
    factors = [n / o for n, o in zip(new, shape, strict=True)] + [1.0]
    out = ndimage.zoom(np.asarray(values, dtype="float32"), factors, order=1, grid_mode=False)
    return out, [float(t) for t in target]
