"""DICOM series as volumes: a folder tree of single-frame DICOM files, one volume per
series (SeriesInstanceUID), and a multi-frame file as a volume of its own.

A series' slices are ordered by their position along the slice normal (the cross product
of ImageOrientationPatient's row and column directions, dotted with ImagePositionPatient),
else by InstanceNumber. Its spacing is (the median distance between neighbouring slices,
PixelSpacing). A series is refused, naming its files, when its slices differ in shape or
orientation, two slices share a position, or a gap between neighbours is over 1.5 times
the usual one (a missing slice). Pixels are decoded as `dltrain.kinds.dicom` says, then
resampled to `data.spacing` when it is set.

The id of a volume is the folder holding its files, relative to `data.path` (the file for
a multi-frame file); a folder holding several series adds "#<n>" in series-UID order. A
labels CSV holds those ids (`data.dicom.key: file`), or the SeriesInstanceUID or
StudyInstanceUID (`series`, `study`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dltrain.errors import DataError
from dltrain.kinds import dicom, files

GAP = 1.5


@dataclass
class Series:
    """One volume: its files in slice order, the identifying header, where it is."""

    id: str
    files: list[Path]
    header: dict
    multiframe: bool = False
    problems: list[str] = field(default_factory=list)
    positions: list[float] = field(default_factory=list)

    @property
    def where(self) -> str:
        return str(self.files[0].parent) if not self.multiframe else str(self.files[0])


def has_dicom(root: Path, decoders) -> bool:
    """Whether a folder holds DICOM files (at any depth) for the series layout."""
    picker = [d for d in decoders if d.name == "dicom"]
    if not picker:
        return False
    return any(
        picker[0].sniff(_head(p)) or p.suffix.lower() in dicom.SUFFIXES for p in _files(root)
    )


def _files(root: Path, skip: Path | None = None) -> list[Path]:
    from dltrain.data import inputfiles

    skip = skip.resolve() if skip is not None else None
    out = []
    for path in inputfiles.regular_files(root, recursive=True):
        if files.is_hidden(path.relative_to(root)) or (skip and path.resolve() == skip):
            continue
        out.append(path)
    return sorted(out)


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(132)
    except OSError:
        return b""


def find(root: Path, skip: Path | None = None) -> tuple[list[Series], int]:
    """Every series (and multi-frame file) under `root`, and how many other files there were."""
    slices: dict[str, list[_Slice]] = defaultdict(list)
    headers: dict[str, dict] = {}
    volumes: list[Series] = []
    ignored, problems = 0, []
    for path in _files(root, skip):
        if path.suffix.lower() not in dicom.SUFFIXES and not dicom.sniff(_head(path)):
            ignored += 1
            continue
        try:
            ds = dicom.dataset(path, pixels=False)
        except DataError as exc:
            problems.append(f"{path}: {exc.message}")
            continue
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            rel = path.relative_to(root).as_posix()
            volumes.append(Series(rel, [path], dicom.header(ds), multiframe=True))
        else:
            uid = str(ds.get("SeriesInstanceUID", "") or f"no-uid:{path.parent}")
            slices[uid].append(_Slice.of(path, ds))  # a few numbers: the dataset is dropped
            headers.setdefault(uid, dicom.header(ds))
    if problems:
        raise DataError(
            f"{len(problems)} file(s) in {root} cannot be read as DICOM; remove them:",
            details=files.listed(problems),
        )
    volumes += _series(root, slices, headers)
    return sorted(volumes, key=lambda s: s.id), ignored


@dataclass
class _Slice:
    """What ordering and checking a slice needs from its header."""

    path: Path
    shape: tuple[int, int]
    orientation: tuple
    key: float

    @classmethod
    def of(cls, path: Path, ds) -> _Slice:
        shape = (int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0))
        orientation = tuple(round(float(v), 4) for v in ds.get("ImageOrientationPatient") or [])
        return cls(path, shape, orientation, _position(ds, orientation))


def _series(root: Path, slices: dict, headers: dict) -> list[Series]:
    """One `Series` per series UID, its slices ordered, its id its folder (see above)."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for uid, members in slices.items():
        folder = members[0].path.parent.relative_to(root).as_posix()
        by_folder[folder].append(uid)
    out = []
    for folder, uids in by_folder.items():
        for n, uid in enumerate(sorted(uids)):
            name = folder if len(uids) == 1 else f"{folder}#{n + 1}"
            name = name if name != "." else "(data.path)"
            out.append(_ordered(name, slices[uid], headers[uid]))
    return out


def _ordered(name: str, members: list[_Slice], header: dict) -> Series:
    """The series with its slices in order along the normal, and its problems."""
    series = Series(name, [], header)
    keys = [m.key for m in members]
    shapes = {m.shape for m in members}
    orientations = {m.orientation for m in members}
    order = np.argsort(keys, kind="stable")
    series.files = [members[i].path for i in order]
    series.positions = [float(keys[i]) for i in order]
    where = ", ".join(str(p) for p in series.files[:3]) + (" ..." if len(series.files) > 3 else "")
    if len(shapes) > 1:
        shown = ", ".join(f"{r}x{c}" for r, c in sorted(shapes))
        series.problems.append(
            f"{series.id}: slices of different shapes ({shown}) in one series ({where})"
        )
    if len(orientations) > 1:
        series.problems.append(
            f"{series.id}: slices of different orientations in one series ({where})"
        )
    series.problems += _gaps(series)
    return series


def _position(ds, orientation: tuple) -> float:
    position = ds.get("ImagePositionPatient")
    if position and len(orientation) == 6:
        normal = np.cross(orientation[:3], orientation[3:])
        return float(np.dot(normal, [float(v) for v in position]))
    return float(ds.get("InstanceNumber", 0) or 0)


def _gaps(series: Series) -> list[str]:
    """Problems: two slices at one position, or a gap over `GAP` x the usual distance."""
    if len(series.positions) < 2:
        return []
    steps = np.diff(series.positions)
    usual = float(np.median(steps))
    out = []
    for i in np.flatnonzero(steps < 1e-3):
        out.append(
            f"{series.id}: {series.files[i]} and {series.files[i + 1]} are at the same position "
            "(a duplicated slice, or two series under one SeriesInstanceUID)"
        )
    for i in np.flatnonzero(steps > GAP * usual):
        out.append(
            f"{series.id}: a gap of {steps[i]:.3g} mm between {series.files[i].name} and "
            f"{series.files[i + 1].name}, where slices are {usual:.3g} mm apart: a slice is missing"
        )
    return out


def load(series: Series, decoder) -> tuple[np.ndarray, dict]:
    """The volume (depth, height, width, channels) float32 and its meta, decoded with the
    configured DICOM decoder of volumes (window, spacing).

    Raises:
        DataError: a slice cannot be decoded.
    """
    from dltrain.data import inputfiles
    from dltrain.kinds.volumes.spacing import resample

    if series.multiframe:
        decoded = decoder.decode(series.files[0], series.where)
        if decoded.sample is None:
            raise DataError("; ".join(decoded.problems))
        return decoded.sample, decoded.meta
    frames, meta = [], {}
    for path in series.files:
        one = dicom.read(path, decoder.window, max_pixels=inputfiles.IMAGE_PIXELS)
        frames.append(one.values[0])
        meta = one.meta
    values = np.stack(frames)
    values = values[..., None] if values.ndim == 3 else values
    steps = np.diff(series.positions)
    between = float(np.median(steps)) if len(steps) else None
    spacing = [between, *meta["spacing"]] if between and meta.get("spacing") else None
    values, reached = resample(values, spacing, decoder.target)
    return values, {**meta, "spacing": reached, "slices": len(series.files)}
