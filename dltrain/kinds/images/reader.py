"""Images: a folder per class, or a folder of files listed in a labels CSV; new images for
`predict`: one image file, or a folder of them.

Layouts:
- folder per class (no `data.labels`): `path/<class>/<file>` (a file any image decoder reads,
  by extension in any case; hidden files and folders skipped, other files ignored and
  counted). The class is the folder name, in the target column named `data.target`; the
  id is "<class>/<file>". With `target: null` every image under `path`, at any depth, is a
  sample.
- labels CSV (`data.labels`): its `data.id` column holds each image's path relative to
  `path` ("a/1.png"); every image under `path` needs a row and every row an image.
- predict: one image file (id: its name), or every image under a folder, at any depth
  (id: its path relative to the folder).

Every image is opened and fully decoded while reading, by its format's decoder
(`dltrain.kinds.images.decoders`); an empty, truncated, corrupt or unreadable file is
listed (with the reason) in one `DataError`, before anything is written or predicted. An
image over `inputfiles.IMAGE_PIXELS` pixels or `inputfiles.IMAGE` bytes, and anything that
is not a regular file (a FIFO, a device), is refused before it is decoded.

Pixels (`load`): uint8, (k, height, width, channels), channels 1 (grayscale) or 3 (rgb):
- orientation is applied (the image as a viewer shows it: EXIF for PNG/JPEG);
- 16-bit, 32-bit integer and float images are stretched from their own minimum and maximum
  to 0..255 (left as they are when already within 0..255);
- transparency (RGBA, LA, palette with transparency) is composited over black;
- palette, bilevel, CMYK and YCbCr images are converted to RGB or grayscale;
- grayscale uses ITU-R 601-2 luma (Pillow's "L"); rgb repeats a gray image's channel;
- every image is resized to `data.size` (height, width) with Pillow's bilinear filter,
  without keeping the aspect ratio (no padding, no cropping). Without `data.size`, the
  images' own size (as shown, orientation applied) when they all share one, so nothing is
  resized; images of several sizes are then a `ConfigError` that lists the sizes.
`color: auto` is rgb when any image has colour: a channel differing from another by more
than `COLOUR_TOLERANCE` somewhere (so gray content saved as RGB or JPEG is grayscale).
`predict` uses the run's size and colour. Raw files are only read, never modified.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from dltrain.config.data import SIDE_LIMITS
from dltrain.data import inputfiles
from dltrain.errors import ConfigError, DataError
from dltrain.kinds import clinical, files, labels, paths
from dltrain.kinds.base import Samples
from dltrain.kinds.images import IMAGES, Picture

COLOUR_TOLERANCE = 2
GRAY_MODES = {"1", "L", "LA", "La", "I", "F"}


def read(config) -> Samples:
    """Finds, decodes and checks every image; see the module docstring for the layouts."""
    cfg = config.data
    root = paths.data_path(config)
    if not root.is_dir():
        raise DataError(
            f"data.path {root} is a file; images need a folder: one sub-folder per class, or "
            "the images and a labels CSV (data.labels)",
            where=config.where("data.path"),
        )
    decoders = IMAGES.decoders.configured(cfg)
    field = clinical.header_group(config, decoders)
    located_by = clinical.without_group(config) if field else config
    labels_file = paths.labels_path(config)
    if labels_file is None:
        layout, (found_paths, table, where_row, ignored) = (
            "folders",
            _folders(located_by, root, decoders),
        )
    else:
        layout = "labels"
        found_paths, table, where_row, ignored = _listed(located_by, root, labels_file, decoders)
    facts = _checked(found_paths, where_row, decoders)
    if field:
        headers = [f["header"] for f in facts]
        table[field] = clinical.group_values(config, field, headers, where_row)
    coloured = sum(f["colour"] for f in facts)
    rgb = cfg.color == "rgb" or (cfg.color == "auto" and coloured > 0)
    size = tuple(cfg.size) if cfg.size else own_size(config, facts, where_row)
    info = {
        "layout": layout,
        "images": len(found_paths),
        "color": "rgb" if rgb else "grayscale",
        "color_setting": cfg.color,
        "images_with_color": int(coloured),
        "formats": dict(sorted(Counter(f["format"] for f in facts).items())),
        "modes": dict(sorted(Counter(f["mode"] for f in facts).items())),
        "original_height": files.summary([f["size"][1] for f in facts]),
        "original_width": files.summary([f["size"][0] for f in facts]),
        "size": list(size),
        "size_from": "data.size" if cfg.size else "the images (all one size)",
        "resize": "bilinear, aspect ratio not kept",
        "ignored_files": int(ignored),
        **_decoding(config, facts, field),
    }
    source_files = [*found_paths, labels_file] if labels_file else list(found_paths)
    return _samples(found_paths, table, where_row, size, rgb, sorted(source_files), info, decoders)


def _decoding(config, facts: list[dict], field: str | None) -> dict:
    """The manifest's record of how DICOM files were decoded, and where the group came from."""
    out = {}
    metas = [f["meta"] for f in facts if f["format"] == "DICOM"]
    if metas:
        keys = ("modality", "photometric", "transfer_syntax", "window", "spacing")
        out["dicom"] = {"window_setting": _shown_window(config.data.dicom.window)}
        out["dicom"].update(clinical.summary(metas, keys))
    if field:
        out["group_from"] = clinical.group_note(config, field)
    return out


def _shown_window(window):
    return list(window) if isinstance(window, tuple) else window


def read_new(path: Path, config, transform) -> Samples:
    """New images for `predict`, at the run's size and colour (see the module docstring)."""
    decoders = IMAGES.decoders.configured(config.data)
    if path.is_dir():
        found, _ = files.scan_files(path, decoders, recursive=True, what="the folder")
        ids = [labels.relative_id(p, path) for p in found]
    else:
        found, ids = [path], [path.name]
    if not found:
        raise DataError(f"no {decoders.formats} images in {path}")
    _checked(found, lambda i: str(found[i]), decoders, "{n} image(s) cannot be read:")
    height, width, channels = transform.shape
    table = pd.DataFrame({"id": pd.Series(ids, dtype=object).astype(str)})
    where_row = lambda i: str(found[i])  # noqa: E731
    size, rgb = (height, width), channels == 3
    return _samples(found, table, where_row, size, rgb, list(found), {}, decoders)


def _folders(config, root: Path, decoders):
    """(files, table, where, ignored) of the folder-per-class layout (or every image)."""
    targets = labels.target_columns(config.data)
    labels.need_labels_file(config, "a folder per class")
    labels.check_roles(config, with_id=False)
    if targets:
        found, classes, ignored = files.class_folders(root, decoders)
        ids = [f"{c}/{p.name}" for c, p in zip(classes, found, strict=True)]
        columns = pd.DataFrame({targets[0]: pd.Series(classes, dtype=object).astype(str)})
    else:
        found, ignored = files.scan_files(root, decoders, recursive=True)
        ids = [labels.relative_id(p, root) for p in found]
        columns = None
    if not found:
        raise DataError(
            f"no {decoders.formats} images found in {root}"
            + (" (one sub-folder per class, images inside)" if targets else "")
            + f"; check data.path ({config.where('data.path')})"
        )
    where_row = lambda i: str(found[i])  # noqa: E731
    return found, labels.build_table(config, ids, columns, where_row), where_row, ignored


def _listed(config, root: Path, labels_file: Path, decoders):
    """(files, table, where, ignored) of the layout with a labels CSV."""
    csv_file = labels.read_labels(config, labels_file)
    scanned, ignored = files.scan_files(root, decoders, recursive=True, skip=labels_file)
    key = config.data.dicom.key
    if key != "file":
        found, rows = clinical.match_by_header(config, root, scanned, csv_file, key)
        ids = [labels.relative_id(p, root) for p in found]
        where_row = lambda i: f"{found[i]} ({csv_file.at(rows[i])})"  # noqa: E731
        frame = csv_file.frame.iloc[rows].reset_index(drop=True)
        return found, labels.build_table(config, ids, frame, where_row), where_row, ignored
    ids = [labels.normalise_id(i) for i in labels.label_ids(csv_file, config.data.id)]
    by_id = {labels.relative_id(p, root): p for p in scanned}
    found = labels.match_files(by_id, csv_file, ids, root, "image")
    where_row = lambda i: f"{found[i]} ({csv_file.at(i)})"  # noqa: E731
    table = labels.build_table(config, ids, csv_file.frame, where_row)
    return found, table, where_row, ignored


def own_size(config, facts: list[dict], where_row) -> tuple[int, int]:
    """The (height, width) every image shares, for `data.size` unset.

    Raises:
        ConfigError: the images have several sizes (each listed with its count and one
            file), or one size outside `SIDE_LIMITS`; either way `data.size` must be set.
    """
    shown = [(f["shown"][1], f["shown"][0]) for f in facts]
    sizes = Counter(shown).most_common()
    low, high = SIDE_LIMITS
    (height, width), _ = sizes[0]
    if len(sizes) == 1 and low <= min(height, width) and max(height, width) <= high:
        return height, width
    why = (
        f"have {len(sizes)} different sizes"
        if len(sizes) > 1
        else f"are all {height}x{width}, outside {low}..{high} pixels per side"
    )
    raise ConfigError(
        f"data.size is not set and the images {why}, so there is no one size to keep. Set "
        "data.size: [height, width], the size every image is resized to (e.g. "
        f"[{height}, {width}], the most common). Sizes (height x width):",
        where=config.where("data.kind") or config.where("data"),
        details=[
            f"{h}x{w}: {n} image(s), e.g. {where_row(shown.index((h, w)))}"
            for (h, w), n in sizes[:20]
        ],
    )


def _samples(found, table, where_row, size, rgb: bool, source_files, info, decoders) -> Samples:
    height, width = size
    channels = 3 if rgb else 1

    def load(idx: np.ndarray) -> np.ndarray:
        out = np.zeros((len(idx), height, width, channels), dtype="uint8")
        for k, i in enumerate(np.asarray(idx, dtype="int64")):
            out[k] = pixels(found[i], (height, width), rgb, decoders)
        return out

    return Samples(
        kind="images",
        table=table,
        load=load,
        where=where_row,
        files=source_files,
        shape=(height, width, channels),
        info=info,
    )


def _checked(found: list[Path], where_row, decoders, header: str | None = None) -> list[dict]:
    """Decodes every image fully: its facts, or one `DataError` listing every bad file."""
    facts, problems = [], []
    for i, path in enumerate(found):
        fact, reason = _inspect(path, decoders)
        if reason is not None:
            problems.append(f"{where_row(i)}: {reason}")
        facts.append(fact)
    if problems:
        raise DataError(
            (
                header
                or "{n} image file(s) cannot be used; replace or remove them (and their "
                "labels rows) and run again:"
            ).format(n=len(problems)),
            details=files.listed(problems),
        )
    return facts


def _inspect(path: Path, decoders) -> tuple[dict | None, str | None]:
    """Decodes one image fully: its format, mode, size and colour, or why it cannot be used."""
    reason = inputfiles.problem(path, inputfiles.IMAGE)  # a FIFO's size is 0 too
    if reason is not None:
        return None, reason
    try:
        if path.stat().st_size == 0:
            return None, "the file is empty (0 bytes)"
        picture = decoded(path, decoders)
    except DataError as exc:
        return None, exc.message
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror or exc}"
    fact = {
        "format": picture.format,
        "mode": picture.mode,
        "size": picture.size,
        "shown": picture.image.size,  # (width, height) after orientation: what is resized
        "colour": has_colour(picture.image),
        "meta": picture.meta,
        "header": picture.header,
    }
    return fact, None


def decoded(path: Path, decoders=None) -> Picture:
    """One image file through its decoder (an image given to predict by a name no decoder
    claims is tried with each, in order).

    Raises:
        DataError: not a regular file or over `inputfiles.IMAGE` bytes (before it is
            opened), or the decoder's reason.
    """
    reason = inputfiles.problem(path, inputfiles.IMAGE)
    if reason is not None:
        raise DataError(reason, where=str(path))
    decoders = decoders if decoders is not None else IMAGES.decoders
    chosen = decoders.pick(path)
    candidates = [chosen] if chosen is not None else list(decoders)
    for decoder in candidates:
        try:
            return decoder.read(path)
        except DataError as exc:
            error = exc
    raise error


def has_colour(img: Image.Image) -> bool:
    """Whether any pixel's channels differ by more than `COLOUR_TOLERANCE`."""
    if img.mode in GRAY_MODES or img.mode.startswith("I;"):
        return False
    rgb = np.asarray(img.convert("RGB"), dtype="int16")
    spread = np.maximum(np.abs(rgb[..., 0] - rgb[..., 1]), np.abs(rgb[..., 1] - rgb[..., 2]))
    return bool(spread.max(initial=0) > COLOUR_TOLERANCE)


def pixels(path: Path, size: tuple[int, int], rgb: bool, decoders=None) -> np.ndarray:
    """One image as uint8 (height, width, 1 or 3), converted as the module docstring says.

    Raises:
        DataError: the image cannot be decoded (e.g. too many pixels, refused undecoded).
    """
    img = _eight_bit(decoded(path, decoders).image)
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
