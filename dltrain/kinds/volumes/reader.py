"""3-D volumes (CT/MRI stacks, or video as frames x height x width), as NumPy arrays.

Layouts, told apart by `data.path`:
- an array file: `.npy` of shape (volumes, depth, height, width) or (volumes, depth,
  height, width, channels), memory-mapped (never loaded whole), or an `.npz` holding exactly
  one such array (loaded whole). The labels CSV's id column holds each volume's row number,
  0 for the first, as for signals.
- a folder with one file per volume (top level only), in a format of
  `dltrain.kinds.volumes.decoders` (`.npy` of shape (depth, height, width) or (depth,
  height, width, channels)); the labels CSV's id is the file name without its extension.
- predict: an .npy/.npz, or a folder of them, each holding one volume or a batch of
  volumes of the trained shape (`files.batches`); or a file of another format a decoder
  reads (one volume each), or a folder of them.

Every volume is checked before anything is written or predicted: NaN, infinite or too-large
values, the wrong number of dimensions, and a shape different from most volumes' (from the
trained one, in predict; volumes are never resized or resampled: that needs the voxel
spacing, which a bare array does not carry). `load` gives float32 (k, depth, height, width,
channels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dltrain.errors import DataError
from dltrain.kinds import files, labels, paths
from dltrain.kinds.base import Samples
from dltrain.kinds.volumes import VOLUMES

ARRAY_SUFFIXES = {".npy", ".npz"}


def read(config) -> Samples:
    """Finds and checks every volume; see the module docstring for the layouts."""
    root = paths.data_path(config)
    labels_file = paths.labels_path(config)
    if root.is_dir():
        layout = "files"
        located, get, shape = _from_files(config, root, labels_file)
        source_files = list(located.paths)
    elif root.suffix.lower() in ARRAY_SUFFIXES:
        layout = "array"
        located, get, shape = _from_array(config, root, labels_file)
        source_files = [root]
    else:
        raise DataError(
            f"data.path {root} is neither a folder of .npy files nor an .npy/.npz array; "
            "volumes come as one of these",
            where=config.where("data.path"),
        )
    if located.labels is not None:
        source_files.append(located.labels)
    info = {
        "layout": layout,
        "volumes": len(located.ids),
        "shape": list(shape),
        "channels": int(shape[-1]),
        "ignored_files": int(located.ignored),
    }
    return _samples(located.table, located.where, get, shape, source_files, info)


def read_new(path: Path, config, transform) -> Samples:
    """New volumes for `predict`, of the trained shape (see the module docstring)."""
    shape = tuple(transform.shape)
    records = [d for d in VOLUMES.decoders if not {".npy", ".npz"} & set(d.suffixes)]
    found = files.batches(path, shape, "volume", "volume(s)", records)
    for f, batch in enumerate(found.arrays):
        if tuple(batch.shape[1:]) != shape:
            raise DataError(
                f"samples of shape {tuple(batch.shape[1:])} do not fit the model's input {shape}",
                where=str(found.files[f]),
            )

    def get(i: int) -> np.ndarray:
        return np.asarray(found.row(i), dtype="float32")

    table = pd.DataFrame({"id": pd.Series(found.ids, dtype=object).astype(str)})
    return _samples(table, found.where, get, shape, [path], {})


def _samples(table, where, get, shape, source_files, info) -> Samples:
    def load(idx: np.ndarray) -> np.ndarray:
        out = np.zeros((len(idx), *shape), dtype="float32")
        for k, i in enumerate(np.asarray(idx, dtype="int64")):
            out[k] = get(int(i))
        return out

    return Samples(
        kind="volumes",
        table=table,
        load=load,
        where=where,
        files=sorted(source_files),
        shape=tuple(int(s) for s in shape),
        info=info,
    )


def _with_channels(values: np.ndarray) -> np.ndarray:
    return values[..., None] if values.ndim == 3 else values


def _from_array(config, source: Path, labels_file: Path | None):
    if labels_file is None:
        labels.labels_required(config, f"the array {source.name}")
    array = files.open_array(source)
    expected = "(volumes, depth, height, width) or (volumes, depth, height, width, channels)"
    problem = files.array_problem(array, (4, 5), expected)
    if problem is None and len(array) == 0:
        problem = "has no volumes"
    if problem is not None:
        raise DataError(f"the volumes array {problem}", where=str(source))
    located = labels.locate_rows(config, source, len(array), labels_file).build(config)
    sample_of_row = np.empty(len(array), dtype="int64")
    sample_of_row[located.rows] = np.arange(len(located.rows))
    bad = files.nonfinite(array, lambda r: located.where(sample_of_row[r]), per_item=True)
    if bad:
        raise DataError(
            f"{len(bad)} volume(s) hold values that are not finite numbers; fix or remove them:",
            details=files.listed(bad),
        )
    rows = located.rows

    def get(i: int) -> np.ndarray:
        return _with_channels(np.asarray(array[rows[i]], dtype="float32"))

    shape = tuple(array.shape[1:]) + ((1,) if array.ndim == 4 else ())
    return located, get, shape


def _from_files(config, root: Path, labels_file: Path | None):
    decoders = VOLUMES.decoders
    located = labels.locate_files(config, root, labels_file, decoders, "volume").build(config)
    problems: list[tuple[int, str]] = []
    shapes: list[tuple[int, ...] | None] = []
    for i, path in enumerate(located.paths):
        decoded = decoders.pick(path).decode(path, located.where(i))
        problems += [(i, line) for line in decoded.problems]
        shapes.append(None if decoded.sample is None else tuple(decoded.sample.shape))
    known = [s for s in shapes if s is not None]
    usual = files.most_common(known) if known else None
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
            details=files.listed([line for _, line in problems]),
        )
    volume_paths = located.paths

    def get(i: int) -> np.ndarray:
        return decoders.pick(volume_paths[i]).load(volume_paths[i])

    return located, get, usual


def _shown(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"
