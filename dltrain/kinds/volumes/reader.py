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

from dltrain.errors import ConfigError, DataError
from dltrain.kinds import clinical, dicom, files, labels, paths
from dltrain.kinds.base import Samples
from dltrain.kinds.volumes import VOLUMES, series

ARRAY_SUFFIXES = {".npy", ".npz"}


def read(config) -> Samples:
    """Finds and checks every volume; see the module docstring for the layouts."""
    root = paths.data_path(config)
    labels_file = paths.labels_path(config)
    decoders = VOLUMES.decoders.configured(config.data)
    decoding: dict = {}
    if root.is_dir() and series.has_dicom(root, decoders):
        layout = "dicom series"
        located, get, shape, decoding = _from_series(config, root, labels_file, decoders)
        source_files = list(located.paths)
    elif root.is_dir():
        layout = "files"
        located, get, shape, decoding = _from_files(config, root, labels_file, decoders)
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
        **decoding,
    }
    return _samples(located.table, located.where, get, shape, source_files, info)


def read_new(path: Path, config, transform) -> Samples:
    """New volumes for `predict`, of the trained shape (see the module docstring)."""
    shape = tuple(transform.shape)
    decoders = VOLUMES.decoders.configured(config.data)
    if path.is_dir() and series.has_dicom(path, decoders):
        return _new_series(path, decoders, shape)
    records = [d for d in decoders if not {".npy", ".npz"} & set(d.suffixes)]
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
    files.refuse_nonfinite(array, located, "volume(s)")
    rows = located.rows

    def get(i: int) -> np.ndarray:
        return _with_channels(np.asarray(array[rows[i]], dtype="float32"))

    shape = tuple(array.shape[1:]) + ((1,) if array.ndim == 4 else ())
    return located, get, shape


def _from_files(config, root: Path, labels_file: Path | None, decoders):
    field = clinical.header_group(config, decoders)
    located_by = clinical.without_group(config) if field else config
    located = labels.locate_files(located_by, root, labels_file, decoders, "volume")
    located.build(located_by)
    volume_paths = located.paths

    def decode(i: int):
        decoded = decoders.pick(volume_paths[i]).decode(volume_paths[i], located.where(i))
        return decoded.sample, decoded.problems, decoded.meta, decoded.header

    usual, metas, headers = _checked(len(volume_paths), decode, located.where)
    if field:
        located.table[field] = clinical.group_values(config, field, headers, located.where)

    def get(i: int) -> np.ndarray:
        return decoders.pick(volume_paths[i]).load(volume_paths[i])

    return located, get, usual, _decoding(config, metas, field)


def _from_series(config, root: Path, labels_file: Path | None, decoders):
    """The DICOM series layout (`dltrain.kinds.volumes.series`)."""
    decoder = next(d for d in decoders if d.name == "dicom")
    field = clinical.header_group(config, decoders)
    located_by = clinical.without_group(config) if field else config
    found, ignored = series.find(root, skip=labels_file)
    if not found:
        raise DataError(f"no DICOM files in {root}; check data.path ({config.where('data.path')})")
    located = _series_labels(located_by, root, found, labels_file)
    located.ignored = ignored
    located.build(located_by)

    def decode(i: int):
        if found[i].problems:
            return None, found[i].problems, {}, found[i].header
        try:
            values, meta = series.load(found[i], decoder)
        except DataError as exc:
            return None, [f"{found[i].id}: {exc}"], {}, found[i].header
        return values, [], meta, found[i].header

    usual, metas, headers = _checked(len(found), decode, located.where)
    if field:
        located.table[field] = clinical.group_values(config, field, headers, located.where)

    def get(i: int) -> np.ndarray:
        return series.load(found[i], decoder)[0]

    return located, get, usual, _decoding(config, metas, field)


def _series_labels(config, root: Path, found: list, labels_file: Path | None) -> labels.Located:
    """The series matched to the labels CSV by folder (`data.dicom.key: file`) or UID."""
    ids = [s.id for s in found]
    where = lambda i: found[i].where  # noqa: E731
    paths = [f for s in found for f in s.files]
    if labels_file is None:
        labels.labels_required(config, "a folder of DICOM series")
        return labels.Located(ids, None, where, None, paths=paths)
    csv_file = labels.read_labels(config, labels_file)
    key = config.data.dicom.key
    if key == "sop":
        raise ConfigError(
            "data.dicom.key 'sop' names one slice, but a volume is a whole series: key the "
            "labels by 'file' (the series' folder), 'series' or 'study'",
            where=config.where("data.dicom.key"),
        )
    if key == "file":
        index = {sample_id: i for i, sample_id in enumerate(ids)}
        label_ids = [labels.normalise_id(i) for i in labels.label_ids(csv_file, config.data.id)]
        matched = labels.match_files(index, csv_file, label_ids, root, "series")
        rows = [0] * len(ids)
        for row, i in enumerate(matched):  # matched: the series of each labels row
            rows[i] = row
    else:
        field = dicom.KEYS[key]
        rows = clinical.match_keys(config, [s.header[field] for s in found], where, csv_file, field)
    frame = csv_file.frame.iloc[rows].reset_index(drop=True)
    where_row = lambda i: f"{found[i].where} ({csv_file.at(rows[i])})"  # noqa: E731
    return labels.Located(ids, frame, where_row, labels_file, paths=paths)


def _new_series(path: Path, decoders, shape) -> Samples:
    """DICOM series given to `predict`: each series at the trained shape."""
    decoder = next(d for d in decoders if d.name == "dicom")
    found, _ = series.find(path)
    if not found:
        raise DataError(f"no DICOM files in {path}")
    where = lambda i: found[i].where  # noqa: E731

    def decode(i: int):
        try:
            return series.load(found[i], decoder)[0], found[i].problems, {}, {}
        except DataError as exc:
            return None, [f"{found[i].id}: {exc}"], {}, {}

    _checked(len(found), decode, where, expected=shape)

    def get(i: int) -> np.ndarray:
        return series.load(found[i], decoder)[0]

    table = pd.DataFrame({"id": pd.Series([s.id for s in found], dtype=object).astype(str)})
    return _samples(table, where, get, shape, [path], {})


def _checked(n: int, decode, where, expected=None):
    """Decodes every volume once: (the usual shape, metas, headers), or one `DataError`
    listing every problem (a shape other than `expected`, or than most volumes')."""
    problems: list[tuple[int, str]] = []
    shapes: list[tuple[int, ...] | None] = []
    metas, headers = [], []
    for i in range(n):
        sample, lines, meta, header = decode(i)
        problems += [(i, line) for line in lines]
        shapes.append(None if sample is None or lines else tuple(sample.shape))
        metas.append(meta)
        headers.append(header)
    known = [s for s in shapes if s is not None]
    usual = expected or (files.most_common(known) if known else None)
    mismatched = [i for i, s in enumerate(shapes) if s is not None and s != usual]
    for i in mismatched:
        theirs = "the model's input" if expected else "most volumes'"
        problems.append(
            (i, f"{where(i)}: shape {_shown(shapes[i])} differs from {theirs} {_shown(usual)}")
        )
    if problems:
        problems.sort(key=lambda p: p[0])
        advice = (
            "; volumes are not resized: bring them to one shape (depth, height, width[, "
            "channels]) first, or set data.spacing so that they are resampled alike"
            if mismatched
            else ""
        )
        raise DataError(
            f"{len(problems)} problem(s) in the volumes; fix or remove these files (and their "
            f"labels rows){advice}:",
            details=files.listed([line for _, line in problems]),
        )
    return usual, metas, headers


def _decoding(config, metas: list[dict], field: str | None) -> dict:
    """The manifest's record of the decoding (spacing, window, orientation) and the group."""
    keys = ("spacing", "original_spacing", "orientation", "modality", "window", "transfer_syntax")
    out = clinical.summary(metas, keys)
    if field:
        out["group_from"] = clinical.group_note(config, field)
    return out


def _shown(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"
