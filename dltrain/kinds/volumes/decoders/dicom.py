"""DICOM volumes (pydicom): a multi-frame file is one volume (frames = depth).

A folder of single-frame files, one series per volume, is the series layout of the volumes
reader (`dltrain.kinds.volumes.series`), which uses the same decoding: rescale
slope/intercept, the window of `data.dicom.window`, MONOCHROME1 inverted
(`dltrain.kinds.dicom`), then `data.spacing` (`dltrain.kinds.volumes.spacing`). The spacing
between frames is SpacingBetweenSlices, else SliceThickness.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.errors import DataError
from dltrain.kinds import dicom
from dltrain.kinds.decoders import Decoded, Decoder

MAX_VOXELS = 1 << 28  # 268 M voxels: a volume is loaded whole


class DicomVolume(Decoder):
    name = "dicom"
    suffixes = dicom.SUFFIXES
    formats = dicom.FORMATS
    header_fields = dicom.HEADER_FIELDS
    window = "file"
    target = None

    def configured(self, data) -> DicomVolume:
        bound = DicomVolume()
        bound.window = data.dicom.window if hasattr(data, "dicom") else "file"
        bound.target = getattr(data, "spacing", None)
        return bound

    def sniff(self, head: bytes) -> bool:
        return dicom.sniff(head)

    def decode(self, path: Path, where: str) -> Decoded:
        """The frames as a volume (depth, height, width, channels), float32."""
        from dltrain.kinds.volumes.spacing import resample

        try:
            slices = dicom.read(path, self.window, max_pixels=MAX_VOXELS)
        except DataError as exc:
            return Decoded(None, [f"{where}: {exc.message}"])
        values = slices.values
        values = values[..., None] if values.ndim == 3 else values
        spacing = _spacing(path, slices)
        values, reached = resample(values, spacing, self.target)
        meta = {**slices.meta, "spacing": reached, "frames": int(len(slices.values))}
        return Decoded(values, [], meta, slices.header)


def _spacing(path: Path, slices) -> list[float] | None:
    """(between frames, rows, columns) in mm, or None when the header lacks it."""
    ds = dicom.dataset(path, pixels=False)
    between = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness")
    inplane = slices.meta.get("spacing")
    if not inplane or not between:
        return None
    return [float(between), *inplane]


DECODER = DicomVolume()
