"""NIfTI-1/NIfTI-2 volumes (nibabel): `.nii` and `.nii.gz`, one volume per file.

The image is reoriented to the closest canonical orientation (RAS+: x to the right, y to
the front, z up; `nibabel.as_closest_canonical`), so that every volume has the same axis
order whatever its scanner wrote, then stored as (depth, height, width[, channels]) =
(z, y, x[, t]): slices from feet to head, rows back to front, columns left to right. A 2-D
image (a slice) is a volume of depth 1. The scaled values (scl_slope/scl_inter applied)
are float32; NaN or infinite voxels are problems. `data.spacing` resamples it
(`dltrain.kinds.volumes.spacing`); the spacing (mm) is in `meta`.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.kinds.decoders import Decoded, Decoder


class Nifti(Decoder):
    name = "nifti"
    suffixes = (".nii", ".nii.gz")
    formats = "NIfTI (.nii, .nii.gz)"
    target = None

    def configured(self, data) -> Nifti:
        bound = Nifti()
        bound.target = getattr(data, "spacing", None)
        return bound

    def decode(self, path: Path, where: str) -> Decoded:
        """The canonical, resampled volume (channels last) and its spacing."""
        import numpy as np

        from dltrain.data import inputfiles
        from dltrain.kinds import files
        from dltrain.kinds.volumes.spacing import resample

        reason = inputfiles.problem(path, inputfiles.ARRAY)
        if reason is not None:
            return Decoded(None, [f"{where}: {reason}"])
        try:
            values, spacing = _canonical(path)
        except (OSError, ValueError, EOFError, TypeError) as exc:
            return Decoded(None, [f"{where}: cannot be read as NIfTI: {exc}"])
        if values.ndim not in (2, 3, 4):
            return Decoded(None, [f"{where}: has {values.ndim} dimensions; expected 2 to 4"])
        bad = files.nonfinite(values, lambda _: where, per_item=False)
        if bad:
            return Decoded(None, bad)
        values = values[None] if values.ndim == 2 else values
        values = values[..., None] if values.ndim == 3 else values
        values, reached = resample(values, spacing, self.target)
        meta = {
            "spacing": [round(float(s), 4) for s in reached],
            "original_spacing": [round(float(s), 4) for s in spacing],
            "orientation": "RAS+ (canonical), stored as (z, y, x)",
        }
        return Decoded(np.ascontiguousarray(values, dtype="float32"), [], meta)


def _canonical(path: Path):
    """(values as (z, y, x[, t]) float32, spacing (z, y, x) in mm) of the canonical image."""
    import numpy as np

    from dltrain.kinds.clinical import need

    nib = need("nibabel")
    try:
        image = nib.as_closest_canonical(nib.load(str(path)))
    except nib.filebasedimages.ImageFileError as exc:
        raise ValueError(str(exc)) from None
    values = np.asarray(image.get_fdata(dtype="float32"))
    zooms = [float(z) for z in image.header.get_zooms()[:3]]
    if values.ndim == 2:
        return values.T, [1.0, zooms[1], zooms[0]]
    zooms += [1.0] * (3 - len(zooms))
    axes = (2, 1, 0, *range(3, values.ndim))
    return np.transpose(values, axes), [zooms[2], zooms[1], zooms[0]]


DECODER = Nifti()
