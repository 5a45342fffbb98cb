"""Images: 2-D pictures, grayscale or colour, resized to one size (`data.size`).

Reading (layouts, checks, conversion to pixels): `dltrain.kinds.images.reader`. File
formats: one module each in `dltrain.kinds.images.decoders` (`png_jpeg`, `dicom`), each an
`ImageDecoder` that turns a file into a `Picture`: the image as a viewer shows it (a Pillow
image, orientation applied, fully decoded) and what its file says (format, mode, size).
Everything after that (8-bit conversion, colour, resizing) is the kind's, the same for
every format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dltrain.config.data import ImagesData
from dltrain.kinds.arrays import ArrayKind
from dltrain.kinds.decoders import Decoded, Decoder


@dataclass
class Picture:
    """One decoded image.

    Attributes:
        image: a Pillow image, fully decoded, with its stored orientation applied.
        format: the file's format as Pillow names it ("PNG", "JPEG").
        mode: the pixel mode as stored ("L", "RGB", "I;16", "P", ...).
        size: (width, height) as stored (before orientation).
        meta: what the header says about the image beyond pixels. Defaults to {}.
        header: identifying header fields (DICOM PatientID, UIDs), raw, for a group or a
            labels key: pseudonymised by the reader, never recorded. Defaults to {}.
    """

    image: Any
    format: str
    mode: str
    size: tuple[int, int]
    meta: dict = field(default_factory=dict)
    header: dict = field(default_factory=dict)


class ImageDecoder(Decoder):
    """A file format of images: `read` gives a `Picture` or raises `DataError`.

    `read` must refuse, before decoding, an image over `inputfiles.IMAGE_PIXELS` pixels
    (from its header), with the reason as the `DataError`'s message and the file as
    its `where`; the reader checks the file's size and kind before calling it.
    """

    def read(self, path: Path) -> Picture:
        raise NotImplementedError

    def decode(self, path: Path, where: str) -> Decoded:
        from dltrain.errors import DataError

        try:
            picture = self.read(path)
        except DataError as exc:
            return Decoded(None, [f"{where}: {exc.message}"])
        return Decoded(picture, [], picture.meta, picture.header)


class ImagesKind(ArrayKind):
    name = "images"
    config_class = ImagesData
    decoder_package = "dltrain.kinds.images.decoders"
    reader = "dltrain.kinds.images.reader"

    def augmentation(self, augment: list, seed: int) -> tuple[list, list]:
        import keras

        made = {
            "flip": lambda v, s: keras.layers.RandomFlip(v, seed=s),
            "rotation": lambda v, s: keras.layers.RandomRotation(v, seed=s),
            "zoom": lambda v, s: keras.layers.RandomZoom((-v, v), seed=s),
            "translation": lambda v, s: keras.layers.RandomTranslation(v, v, seed=s),
            "contrast": lambda v, s: keras.layers.RandomContrast(v, seed=s),
            "brightness": lambda v, s: keras.layers.RandomBrightness(
                v, value_range=(0.0, 255.0), seed=s
            ),
        }
        before = []
        for i, item in enumerate(augment):
            key, value = next(iter(item.model_dump().items()))
            before.append(made[key](value, seed + 1000 + i))
        return before, []

    def fitted_options(self, transform) -> dict:
        return {"color": "rgb" if transform.shape[-1] == 3 else "grayscale"}

    def sidecar(self, transform) -> list[str]:
        h, w, c = transform.shape
        formats = "/".join(transform.info.get("formats") or {"PNG": 1, "JPEG": 1})
        return [
            *dicom_steps(transform.info.get("dicom")),
            f"decode {formats}, apply EXIF orientation, convert to "
            f"{'RGB' if c == 3 else 'grayscale'}, resize bilinearly to {h}x{w} "
            "(aspect ratio not kept)",
            f"float32 pixel values 0..255, shape (batch, {h}, {w}, {c})",
            "dltrain.kinds.images.reader.pixels(file, size, rgb) does exactly this",
        ]


def dicom_steps(dicom: dict | None) -> list[str]:
    """The export sidecar's DICOM decoding, from the manifest's record of it."""
    if not dicom:
        return []
    window = dicom.get("window")
    how = (
        f"window center {window[0]:g}, width {window[1]:g} mapped linearly to 0..255 (clipped)"
        if isinstance(window, list) and len(window) == 2 and not isinstance(window[0], list)
        else f"window {window!r} (setting {dicom.get('window_setting')!r})"
    )
    return [
        "DICOM (pydicom): apply RescaleSlope/RescaleIntercept, then " + how + "; invert "
        "MONOCHROME1; a colour image is converted to RGB, not windowed",
        f"pixel spacing in training: {dicom.get('spacing')} mm (images are resized to the "
        "size below regardless of spacing)",
    ]


IMAGES = ImagesKind()
