"""DICOM images (pydicom): one single-frame file, one image; files named .dcm/.dicom or
without a known suffix but with DICOM's "DICM" marker.

Decoding (`dltrain.kinds.dicom`): rescale slope/intercept, the window of
`data.dicom.window`, MONOCHROME1 inverted; a grey image becomes a Pillow image of mode "F"
(0..255 once windowed; unwindowed values are stretched by the kind like any wide image),
a colour one RGB. A multi-frame file is a volume (data.kind: volumes), not an image.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.errors import DataError
from dltrain.kinds import dicom
from dltrain.kinds.images import ImageDecoder, Picture


class DicomImage(ImageDecoder):
    name = "dicom"
    suffixes = dicom.SUFFIXES
    formats = dicom.FORMATS
    header_fields = dicom.HEADER_FIELDS
    window = "file"

    def configured(self, data) -> DicomImage:
        options = getattr(data, "dicom", None)
        bound = DicomImage()
        bound.window = options.window if options is not None else "file"
        return bound

    def sniff(self, head: bytes) -> bool:
        return dicom.sniff(head)

    def read(self, path: Path) -> Picture:
        """The windowed image and its header facts.

        Raises:
            DataError: not DICOM, no pixel data, more than one frame, too many pixels, or a
                compression no installed decoder reads.
        """
        import numpy as np
        from PIL import Image

        from dltrain.data import inputfiles

        slices = dicom.read(path, self.window, max_pixels=inputfiles.IMAGE_PIXELS)
        frames = len(slices.values)
        if frames != 1:
            raise DataError(
                f"is a multi-frame DICOM file ({frames} frames); an image is one frame: read "
                "multi-frame files as volumes (data.kind: volumes)",
                where=str(path),
            )
        values = slices.values[0]
        if values.ndim == 3:
            image = Image.fromarray(np.ascontiguousarray(values))
        else:
            image = Image.fromarray(values.astype("float32"))
        height, width = values.shape[:2]
        picture = Picture(image, "DICOM", image.mode, (width, height), slices.meta)
        picture.header = slices.header
        return picture


DECODER = DicomImage()
