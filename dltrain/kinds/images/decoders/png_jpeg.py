"""PNG and JPEG, decoded by Pillow (content decides: a PNG named .jpg is read as PNG).

An image of more than `inputfiles.IMAGE_PIXELS` pixels (64 megapixels) is refused from its
header, before it is decoded, in training and in `predict` alike. An empty, truncated,
corrupt or unrecognised file is refused with the reason.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from dltrain.data import inputfiles
from dltrain.errors import DataError
from dltrain.kinds.images import ImageDecoder, Picture

FORMATS = ["PNG", "JPEG"]


class PngJpeg(ImageDecoder):
    name = "png_jpeg"
    suffixes = (".png", ".jpg", ".jpeg")
    formats = "PNG or JPEG"

    def read(self, path: Path) -> Picture:
        """The image, fully decoded, EXIF orientation applied.

        Raises:
            DataError: too many pixels, or not a readable PNG or JPEG (the reason).
        """
        from PIL import ImageOps, UnidentifiedImageError

        try:
            with opened(path) as original:
                image = ImageOps.exif_transpose(original)  # decodes it
                return Picture(image, original.format, original.mode, original.size)
        except DataError:
            raise
        except UnidentifiedImageError:
            reason = "not a PNG or JPEG image (the file's content is not recognised)"
        except OSError as exc:
            if "truncated" in str(exc):
                reason = f"truncated: {exc}; the file was cut short (copy it again)"
            else:
                reason = f"cannot be read: {exc.strerror or exc}"
        except (SyntaxError, ValueError, EOFError) as exc:
            reason = f"corrupt: {exc}"
        raise DataError(reason, where=str(path))


@contextlib.contextmanager
def opened(path: Path):
    """An image opened (header read, nothing decoded), refused if it is too large to decode.

    Raises:
        DataError: not a regular file, over `inputfiles.IMAGE` bytes, or over
            `inputfiles.IMAGE_PIXELS` pixels (width x height from the header).
    """
    from PIL import Image

    reason = inputfiles.problem(path, inputfiles.IMAGE)
    if reason is not None:
        raise DataError(reason, where=str(path))
    with warnings.catch_warnings():
        # Pillow warns above ~89 M pixels; the limit below, checked first, is lower.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path, formats=FORMATS)
        except Image.DecompressionBombError as exc:  # Pillow refuses above ~179 M pixels
            raise DataError(f"is {_too_many_pixels()} (Pillow: {exc})", where=str(path)) from None
    with img:
        width, height = img.size
        if width * height > inputfiles.IMAGE_PIXELS:
            raise DataError(
                f"is {width} x {height} = {width * height:,} pixels; {_too_many_pixels()}",
                where=str(path),
            )
        yield img


def _too_many_pixels() -> str:
    return (
        f"over dltrain's limit of {inputfiles.IMAGE_PIXELS:,} pixels (64 megapixels) per image, "
        "so it is not decoded (that would take gigabytes of memory): downscale it (every "
        f"image is resized to data.size anyway); {inputfiles.NO_SETTING}"
    )


DECODER = PngJpeg()
