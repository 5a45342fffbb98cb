"""Images (PNG, JPEG): a folder per class, or a folder of files listed in a labels CSV.

Layouts:
- folder per class (no `data.labels`): `path/<class>/<file>.png|.jpg|.jpeg` (extension in
  any case; hidden files and folders skipped, other files ignored and counted). The class is
  the folder name, in the target column named `data.target`; the id is "<class>/<file>".
  With `target: null` every image under `path`, at any depth, is a sample.
- labels CSV (`data.labels`): its `data.id` column holds each image's path relative to
  `path` ("a/1.png"); every image under `path` needs a row and every row an image.

Every image is opened and fully decoded while reading; an empty, truncated, corrupt or
unreadable file is listed (with the reason) in one `DataError`, before anything is
written. Only PNG and JPEG are decoded, whatever the file is called. An image of more
than `inputfiles.IMAGE_PIXELS` pixels (64 megapixels) is refused from its header, before
it is decoded, in training and in `predict` alike (`opened`); so is a file over
`inputfiles.IMAGE` bytes, and anything that is not a regular file (a FIFO, a device).

Pixels (`load`): uint8, (k, height, width, channels), channels 1 (grayscale) or 3 (rgb):
- EXIF orientation is applied (the image as a viewer shows it);
- 16-bit, 32-bit integer and float images are stretched from their own minimum and maximum
  to 0..255 (left as they are when already within 0..255);
- transparency (RGBA, LA, palette with transparency) is composited over black;
- palette, bilevel, CMYK and YCbCr images are converted to RGB or grayscale;
- grayscale uses ITU-R 601-2 luma (Pillow's "L"); rgb repeats a gray image's channel;
- every image is resized to `data.size` (height, width) with Pillow's bilinear filter,
  without keeping the aspect ratio (no padding, no cropping).
`color: auto` is rgb when any image has colour: a channel differing from another by more
than `COLOUR_TOLERANCE` somewhere (so gray content saved as RGB or JPEG is grayscale).
Raw files are only read, never modified.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from dltrain.data import inputfiles
from dltrain.data.readers import common
from dltrain.data.sources import Samples
from dltrain.errors import DataError

SUFFIXES = {".png", ".jpg", ".jpeg"}
FORMATS = ["PNG", "JPEG"]
COLOUR_TOLERANCE = 2
GRAY_MODES = {"1", "L", "LA", "La", "I", "F"}


def read(config) -> Samples:
    """Finds, decodes and checks every image; see the module docstring for the layouts."""
    cfg = config.data
    root = common.data_path(config)
    if not root.is_dir():
        raise DataError(
            f"data.path {root} is a file; images need a folder: one sub-folder per class, or "
            "the images and a labels CSV (data.labels)",
            where=config.where("data.path"),
        )
    labels_file = common.labels_path(config)
    targets = common.target_columns(cfg)
    if labels_file is None:
        common.need_labels_file(config, "a folder per class")
        common.check_roles(config, with_id=False)
        if targets:
            paths, classes, ignored = common.class_folders(root, SUFFIXES)
            ids = [f"{c}/{p.name}" for c, p in zip(classes, paths, strict=True)]
            columns = pd.DataFrame({targets[0]: pd.Series(classes, dtype=object).astype(str)})
        else:
            paths, ignored = common.scan_files(root, SUFFIXES, recursive=True)
            ids = [common.relative_id(p, root) for p in paths]
            columns = None
        if not paths:
            raise DataError(
                f"no PNG or JPEG images found in {root}"
                + (" (one sub-folder per class, images inside)" if targets else "")
                + f"; check data.path ({config.where('data.path')})"
            )
        where_row = lambda i: str(paths[i])  # noqa: E731
        layout = "folders"
        table = common.build_table(config, ids, columns, where_row)
        source_files = list(paths)
    else:
        labels = common.read_labels(config, labels_file)
        ids = [common.normalise_id(i) for i in common.label_ids(labels, cfg.id)]
        found_paths, ignored = common.scan_files(root, SUFFIXES, recursive=True, skip=labels_file)
        found = {common.relative_id(p, root): p for p in found_paths}
        paths = common.match_files(found, labels, ids, root, "image")
        where_row = lambda i: f"{paths[i]} ({labels.at(i)})"  # noqa: E731
        layout = "labels"
        table = common.build_table(config, ids, labels.frame, where_row)
        source_files = [*paths, labels_file]

    facts, problems = [], []
    for i, path in enumerate(paths):
        fact, reason = _inspect(path)
        if reason is not None:
            problems.append(f"{where_row(i)}: {reason}")
        facts.append(fact)
    if problems:
        raise DataError(
            f"{len(problems)} image file(s) cannot be used; replace or remove them (and their "
            "labels rows) and run again:",
            details=common.listed(problems),
        )
    coloured = sum(f["colour"] for f in facts)
    rgb = cfg.color == "rgb" or (cfg.color == "auto" and coloured > 0)
    height, width = cfg.size
    channels = 3 if rgb else 1

    def load(idx: np.ndarray) -> np.ndarray:
        out = np.zeros((len(idx), height, width, channels), dtype="uint8")
        for k, i in enumerate(np.asarray(idx, dtype="int64")):
            out[k] = pixels(paths[i], (height, width), rgb)
        return out

    info = {
        "layout": layout,
        "images": len(paths),
        "color": "rgb" if rgb else "grayscale",
        "color_setting": cfg.color,
        "images_with_color": int(coloured),
        "formats": dict(sorted(Counter(f["format"] for f in facts).items())),
        "modes": dict(sorted(Counter(f["mode"] for f in facts).items())),
        "original_height": common.summary([f["size"][1] for f in facts]),
        "original_width": common.summary([f["size"][0] for f in facts]),
        "size": [height, width],
        "resize": "bilinear, aspect ratio not kept",
        "ignored_files": int(ignored),
    }
    return Samples(
        kind="images",
        table=table,
        load=load,
        where=where_row,
        files=sorted(source_files),
        shape=(height, width, channels),
        info=info,
    )


@contextlib.contextmanager
def opened(path: Path):
    """An image opened (header read, nothing decoded), refused if it is too large to decode.

    Raises:
        DataError: not a regular file, over `inputfiles.IMAGE` bytes, or over
            `inputfiles.IMAGE_PIXELS` pixels (width x height from the header).
    """
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


def _inspect(path: Path) -> tuple[dict | None, str | None]:
    """Decodes one image fully: its format, mode, size and colour, or why it cannot be used."""
    try:
        reason = inputfiles.problem(path, inputfiles.IMAGE)  # a FIFO's size is 0 too
        if reason is not None:
            return None, reason
        if path.stat().st_size == 0:
            return None, "the file is empty (0 bytes)"
        with opened(path) as img:
            img.load()
            fact = {
                "format": img.format,
                "mode": img.mode,
                "size": img.size,
                "colour": has_colour(img),
            }
        return fact, None
    except DataError as exc:
        return None, exc.message
    except UnidentifiedImageError:
        return None, "not a PNG or JPEG image (the file's content is not recognised)"
    except OSError as exc:
        if "truncated" in str(exc):
            return None, f"truncated: {exc}; the file was cut short (copy it again)"
        return None, f"cannot be read: {exc.strerror or exc}"
    except (SyntaxError, ValueError, EOFError) as exc:
        return None, f"corrupt: {exc}"


def has_colour(img: Image.Image) -> bool:
    """Whether any pixel's channels differ by more than `COLOUR_TOLERANCE`."""
    if img.mode in GRAY_MODES or img.mode.startswith("I;"):
        return False
    rgb = np.asarray(img.convert("RGB"), dtype="int16")
    spread = np.maximum(np.abs(rgb[..., 0] - rgb[..., 1]), np.abs(rgb[..., 1] - rgb[..., 2]))
    return bool(spread.max(initial=0) > COLOUR_TOLERANCE)


def pixels(path: Path, size: tuple[int, int], rgb: bool) -> np.ndarray:
    """One image as uint8 (height, width, 1 or 3), converted as the module docstring says.

    Raises:
        DataError: the image is too large to decode (see `opened`), before decoding it.
    """
    with opened(path) as original:
        img = ImageOps.exif_transpose(original)
        img = _eight_bit(img)
        img = img.convert("RGB" if rgb else "L")
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        out = np.asarray(img, dtype="uint8")
    return out if out.ndim == 3 else out[..., None]


def _eight_bit(img: Image.Image) -> Image.Image:
    """An 8-bit L or RGB image: wide values stretched, transparency over black."""
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;"):
        values = np.asarray(img, dtype="float64")
        low, high = float(values.min()), float(values.max())
        if low < 0 or high > 255:
            values = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        return Image.fromarray(np.round(values).astype("uint8"))
    if mode in ("L", "RGB"):
        return img
    if mode in ("LA", "La", "PA", "P", "RGBA", "RGBa"):
        base = "L" if mode in ("LA", "La") else "RGB"
        with_alpha = np.asarray(img.convert(base + "A"), dtype="float64")
        alpha = with_alpha[..., -1:] / 255.0
        colour = np.round(with_alpha[..., :-1] * alpha).astype("uint8")
        return Image.fromarray(colour[..., 0] if base == "L" else colour)
    if mode == "1":
        return img.convert("L")
    return img.convert("RGB")
