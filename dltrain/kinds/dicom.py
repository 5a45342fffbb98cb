"""DICOM, shared by the images decoder (one file, one image) and the volumes readers (a
multi-frame file, or a series of files, one volume), with pydicom.

What is done to the pixels, in order:
1. decoded by pydicom (compressed transfer syntaxes where an installed plugin decodes
   them; otherwise a problem naming the packages that would);
2. the modality LUT: rescale slope and intercept (CT to Hounsfield units);
3. windowing (`data.dicom.window`): a preset or [center, width] maps center - width/2 ..
   center + width/2 to 0..255 (clipped, DICOM's linear function); "file" uses the file's
   own first window (none when it has none); "none" keeps the values (the images kind then
   stretches each image from its own minimum and maximum);
4. MONOCHROME1 (white is low) inverted, so that bright is dense in every image.
Colour images (RGB, YBR, palette) are converted to RGB and not windowed.

What is kept (`meta`): spacing, the window used, modality, photometric interpretation,
transfer syntax. `header` (identifying, pseudonymised by the reader): PatientID, the
study, series and SOP instance UIDs, AccessionNumber. Nothing else of the header (names,
birth dates, addresses, institutions) is read into dltrain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dltrain.errors import DataError

SUFFIXES = (".dcm", ".dicom")
HEADER_FIELDS = (
    "PatientID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "AccessionNumber",
)
KEYS = {"sop": "SOPInstanceUID", "series": "SeriesInstanceUID", "study": "StudyInstanceUID"}
FORMATS = "DICOM"


def sniff(head: bytes) -> bool:
    """DICOM Part 10: a 128-byte preamble, then "DICM"."""
    return len(head) >= 132 and head[128:132] == b"DICM"


@dataclass
class Slices:
    """Pixels of one DICOM file, decoded and windowed.

    Attributes:
        values: float64 (frames, rows, columns) or uint8 (frames, rows, columns, 3) for colour.
        meta: spacing, window, modality, photometric interpretation, transfer syntax.
        header: the identifying fields of `HEADER_FIELDS` (raw: pseudonymise them).
        position: ImagePositionPatient (x, y, z) of the first frame, or None.
        orientation: ImageOrientationPatient (6 numbers), or None.
    """

    values: object
    meta: dict = field(default_factory=dict)
    header: dict = field(default_factory=dict)
    position: tuple | None = None
    orientation: tuple | None = None


def dataset(path: Path, *, pixels: bool = True):
    """The file's DICOM dataset (pixel data left encoded).

    Raises:
        DataError: not a regular file or too large, not DICOM, or (with `pixels`) no pixel data.
    """
    from dltrain.data import inputfiles
    from dltrain.kinds.clinical import need

    pydicom = need("pydicom")
    reason = inputfiles.problem(path, inputfiles.IMAGE)
    if reason is not None:
        raise DataError(reason, where=str(path))
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=not pixels)
    except pydicom.errors.InvalidDicomError:
        raise DataError("not a DICOM file (no 'DICM' marker)", where=str(path)) from None
    except (OSError, ValueError, EOFError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot be read as DICOM: {exc}", where=str(path)) from None
    if pixels and "PixelData" not in ds and "FloatPixelData" not in ds:
        what = getattr(ds, "Modality", "") or "no image"
        raise DataError(
            f"the DICOM file has no pixel data ({what}: a report, structured report or "
            "presentation state, not an image); remove it from the data folder",
            where=str(path),
        )
    return ds


def header(ds) -> dict:
    """The identifying fields dltrain may use as a group or labels key (raw)."""
    return {name: str(ds.get(name, "") or "").strip() for name in HEADER_FIELDS}


def read(path: Path, window, *, max_pixels: int) -> Slices:
    """Decodes one DICOM file: pixels through the modality LUT, windowed, MONOCHROME1 inverted.

    Args:
        path: the file.
        window: `data.dicom.window`.
        max_pixels: refuse a file of more pixels (rows x columns x frames, from its header).

    Raises:
        DataError: not DICOM, no pixel data, too many pixels, or a transfer syntax no
            installed plugin decodes (naming the packages that would).
    """
    import numpy as np

    ds = dataset(path)
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if rows * columns * frames > max_pixels:
        raise DataError(
            f"is {frames} frame(s) of {rows} x {columns} pixels, over dltrain's limit of "
            f"{max_pixels:,} pixels per file; downscale it",
            where=str(path),
        )
    raw = _decoded(ds, path)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    colour = raw.ndim == (4 if frames > 1 else 3) and raw.shape[-1] in (3, 4)
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    meta = {
        "modality": str(ds.get("Modality", "") or ""),
        "photometric": photometric,
        "transfer_syntax": getattr(syntax, "name", str(syntax or "")),
        "spacing": _spacing(ds),
    }
    if colour:
        values = raw[..., :3].astype("uint8") if raw.dtype == np.uint8 else _to_uint8(raw[..., :3])
        values = values if frames > 1 else values[None]
        meta["window"] = "colour: not windowed"
    else:
        values = _grey(ds, raw if frames > 1 else raw[None], window, meta)
        if photometric == "MONOCHROME1":
            values = (255.0 - values) if meta["window"] != "none" else values.max() - values
    position = ds.get("ImagePositionPatient")
    orientation = ds.get("ImageOrientationPatient")
    return Slices(
        values,
        meta,
        header(ds),
        tuple(float(v) for v in position) if position else None,
        tuple(float(v) for v in orientation) if orientation else None,
    )


def _decoded(ds, path: Path):
    """The stored pixel values (pydicom's `pixel_array`: YBR to RGB, palette to RGB)."""
    try:
        return ds.pixel_array
    except (RuntimeError, NotImplementedError) as exc:
        syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
        name = getattr(syntax, "name", str(syntax))
        needs = [
            line.strip().split(" - requires ")[-1]
            for line in str(exc).splitlines()
            if " - requires " in line
        ]
        hint = (
            "install a decoder for it, one of: " + "; ".join(needs)
            if needs
            else "convert the file to an uncompressed transfer syntax (e.g. dcmdjpeg, gdcmconv -w)"
        )
        raise DataError(
            f"its pixel data is compressed as {name!r}, which no installed decoder reads; {hint}",
            where=str(path),
        ) from None
    except (ValueError, AttributeError, TypeError, KeyError, IndexError, EOFError) as exc:
        raise DataError(f"its pixel data cannot be decoded: {exc}", where=str(path)) from None


def _spacing(ds) -> list[float] | None:
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    try:
        return [float(v) for v in spacing][:2] if spacing else None
    except (TypeError, ValueError):
        return None


def _grey(ds, raw, window, meta: dict):
    """Modality LUT, then the window (0..255) or the values as they are ("none")."""
    import numpy as np

    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    values = raw.astype("float64") * slope + intercept
    meta["rescale"] = [slope, intercept]
    chosen = _window(ds, window)
    if chosen is None:
        meta["window"] = "none"
        return values
    center, width = chosen
    meta["window"] = [center, width]
    low = center - 0.5 - (width - 1) / 2
    scaled = (values - low) / max(width - 1, 1e-6) * 255.0
    return np.clip(scaled, 0.0, 255.0)


def _window(ds, window) -> tuple[float, float] | None:
    """(center, width) for `data.dicom.window`, or None for no window."""
    from dltrain.config.data import WINDOWS

    if isinstance(window, (tuple, list)):
        return float(window[0]), float(window[1])
    if window in WINDOWS:
        return WINDOWS[window]
    if window == "file":
        center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
        try:
            center = float(center[0] if _multi(center) else center)
            width = float(width[0] if _multi(width) else width)
        except (TypeError, ValueError, IndexError):
            return None
        return (center, width) if width > 0 else None
    return None


def _multi(value) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, (str, bytes))


def _to_uint8(values):
    import numpy as np

    values = values.astype("float64")
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype="uint8")
    return np.round((values - low) * (255.0 / (high - low))).astype("uint8")
