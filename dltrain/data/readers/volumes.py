"""3-D volumes (CT/MRI stacks, or video as frames x height x width), as NumPy arrays.

Layouts, told apart by `data.path`:
- an array file: `.npy` of shape (volumes, depth, height, width) or (volumes, depth,
  height, width, channels), memory-mapped (never loaded whole), or an `.npz` holding exactly
  one such array (loaded whole). The labels CSV's id column holds each volume's row number,
  0 for the first, as for signals.
- a folder with one `.npy` per volume (top level only), (depth, height, width) or (depth,
  height, width, channels); the labels CSV's id is the file name without `.npy`.

Every volume is checked before anything is written: NaN, infinite or too-large values, the
wrong number of dimensions, and a shape different from most volumes' (volumes are never
resized or resampled: that needs the voxel spacing, which a bare array does not carry).
`load` gives float32 (k, depth, height, width, channels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dltrain.data import inputfiles
from dltrain.data.readers import common
from dltrain.data.sources import Samples
from dltrain.errors import DataError

ARRAY_SUFFIXES = {".npy", ".npz"}


def read(config) -> Samples:
    """Finds and checks every volume; see the module docstring for the layouts."""
    root = common.data_path(config)
    labels_file = common.labels_path(config)
    if root.is_dir():
        layout = "files"
        located, get, shape = _from_files(config, root, labels_file)
        files = list(located.paths)
    elif root.suffix.lower() in ARRAY_SUFFIXES:
        layout = "array"
        located, get, shape = _from_array(config, root, labels_file)
        files = [root]
    else:
        raise DataError(
            f"data.path {root} is neither a folder of .npy files nor an .npy/.npz array; "
            "volumes come as one of these",
            where=config.where("data.path"),
        )
    if located.labels is not None:
        files.append(located.labels)

    def load(idx: np.ndarray) -> np.ndarray:
        out = np.zeros((len(idx), *shape), dtype="float32")
        for k, i in enumerate(np.asarray(idx, dtype="int64")):
            out[k] = get(int(i))
        return out

    info = {
        "layout": layout,
        "volumes": len(located.ids),
        "shape": list(shape),
        "channels": int(shape[-1]),
        "ignored_files": int(located.ignored),
    }
    return Samples(
        kind="volumes",
        table=located.table,
        load=load,
        where=located.where,
        files=sorted(files),
        shape=tuple(int(s) for s in shape),
        info=info,
    )


def _with_channels(values: np.ndarray) -> np.ndarray:
    return values[..., None] if values.ndim == 3 else values


def _from_array(config, source: Path, labels_file: Path | None):
    if labels_file is None:
        common.labels_required(config, f"the array {source.name}")
    array = common.open_array(source)
    expected = "(volumes, depth, height, width) or (volumes, depth, height, width, channels)"
    problem = common.array_problem(array, (4, 5), expected)
    if problem is None and len(array) == 0:
        problem = "has no volumes"
    if problem is not None:
        raise DataError(f"the volumes array {problem}", where=str(source))
    located = common.locate_rows(config, source, len(array), labels_file).build(config)
    sample_of_row = np.empty(len(array), dtype="int64")
    sample_of_row[located.rows] = np.arange(len(located.rows))
    bad = common.nonfinite(array, lambda r: located.where(sample_of_row[r]), per_item=True)
    if bad:
        raise DataError(
            f"{len(bad)} volume(s) hold values that are not finite numbers; fix or remove them:",
            details=common.listed(bad),
        )
    rows = located.rows

    def get(i: int) -> np.ndarray:
        return _with_channels(np.asarray(array[rows[i]], dtype="float32"))

    shape = tuple(array.shape[1:]) + ((1,) if array.ndim == 4 else ())
    return located, get, shape


def _from_files(config, root: Path, labels_file: Path | None):
    located = common.locate_files(config, root, labels_file, {".npy"}, "volume").build(config)
    problems: list[tuple[int, str]] = []
    shapes: list[tuple[int, ...] | None] = []
    expected = "(depth, height, width) or (depth, height, width, channels)"
    for i, path in enumerate(located.paths):
        where = located.where(i)
        try:  # not a FIFO or a device, and small enough to load whole (`get`): unread
            problem = inputfiles.problem(path) or inputfiles.npy_problem(path)
            if problem is None:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            problem = f"cannot be read as a NumPy array: {exc}"
        if problem is None:
            problem = common.array_problem(array, (3, 4), expected)
        if problem is not None:
            problems.append((i, f"{where}: {problem}"))
            shapes.append(None)
            continue
        shapes.append(tuple(array.shape) + ((1,) if array.ndim == 3 else ()))
        bad = common.nonfinite(array, lambda _, w=where: w, per_item=False)
        problems += [(i, line) for line in bad]
    known = [s for s in shapes if s is not None]
    usual = common.most_common(known) if known else None
    mismatched = [i for i, s in enumerate(shapes) if s is not None and s != usual]
    for i in mismatched:
        problems.append(
            (
                i,
                f"{located.where(i)}: shape {_shown(shapes[i])} differs from most volumes' "
                f"{_shown(usual)}",
            )
        )
    if problems:
        problems.sort(key=lambda p: p[0])
        advice = (
            "; volumes are not resized (that needs the voxel spacing), so bring them to one "
            "shape (depth, height, width[, channels]) first"
            if mismatched
            else ""
        )
        raise DataError(
            f"{len(problems)} problem(s) in the volumes; fix or remove these files (and their "
            f"labels rows){advice}:",
            details=common.listed([line for _, line in problems]),
        )
    paths = located.paths

    def get(i: int) -> np.ndarray:
        return _with_channels(np.load(paths[i], allow_pickle=False).astype("float32"))

    return located, get, usual


def _shown(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"
