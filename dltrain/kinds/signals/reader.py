"""1-D series with one or more channels (leads): ECG, EEG, sensor traces.

Layouts, told apart by `data.path`:
- an array file: `.npy` of shape (records, length) or (records, length, channels), memory-
  mapped (a big array is never loaded whole), or an `.npz` holding exactly one such array
  (loaded whole: compressed arrays cannot be memory-mapped). The labels CSV's id column
  holds the row number of each record, 0 for the first; every row needs exactly one labels
  row. Without `data.labels` (only with `target: null`) the ids are the row numbers.
- a CSV with one series per row: the `data.id` column (required: a misspelt id column
  would otherwise be read as signal values), the target column(s), the group and split
  columns if configured; every other column is a value of the series, in file order (one
  channel). A row may end early (empty trailing cells): its series is shorter. An empty
  cell inside a series is an error.
- a folder with one file per record (top level only), in a format of
  `dltrain.kinds.signals.decoders` (`.npy` of shape (length,) or (length, channels), `.csv`
  with one column per channel). The labels CSV's id is the file name without its
  extension; a labels file inside the folder is not a record.
- predict: a CSV with one series per row (the `data.id` column optional: without it the
  ids are 1, 2, ...; no target, group or split columns); or an .npy/.npz, or a folder of
  them, each holding one series or a batch of series (`files.batches`); or a record file
  of another format a decoder reads (one series each), or a folder of them.

Every record is checked before anything is written or predicted: NaN, infinite or too-
large values, the wrong number of dimensions, a channel count different from most
records' (from the trained one, in predict), a series shorter than 2 values; all are
listed, with the file (and row) and the reason.

Length (`load` gives float32 (k, length, channels)): `data.length`, or the longest series
of the whole dataset (recorded in `info`); in predict the trained length. It is reached by
`data.fit`: `pad` zero-pads or crops the end; `crop` crops the end and refuses shorter
series (listing them); `resample` interpolates linearly (np.interp per channel) from the
series' own length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dltrain.data import tabular
from dltrain.errors import ConfigError, DataError
from dltrain.kinds import clinical, files, labels, paths
from dltrain.kinds.base import Samples
from dltrain.kinds.signals import SIGNALS, segments

ARRAY_SUFFIXES = {".npy", ".npz"}


def read(config) -> Samples:
    """Finds and checks every series; see the module docstring for the layouts."""
    cfg = config.data
    root = paths.data_path(config)
    labels_file = paths.labels_path(config)
    suffix = root.suffix.lower()
    decoding: dict = {}
    if root.is_dir() and cfg.segments is not None:
        layout = "segments"
        located, get, lengths, channels, decoding = segments.read(config, root, labels_file)
        source_files = [*located.paths]
    elif root.is_dir():
        layout, located, get, lengths, channels, decoding = _from_files(config, root, labels_file)
        source_files = [*located.paths]
    elif cfg.segments is not None:
        raise ConfigError(
            "data.segments cuts records (WFDB, EDF) into samples; data.path must then be a "
            "folder of record files",
            where=config.where("data.segments"),
        )
    elif suffix in ARRAY_SUFFIXES:
        layout, located, get, lengths, channels = _from_array(config, root, labels_file)
        source_files = [root]
    elif suffix == ".csv":
        located, get, lengths = _from_table(config, root, labels_file)
        layout, channels, source_files = "table", 1, [root]
    else:
        raise DataError(
            f"data.path {root} is not a folder, an .npy/.npz array or a .csv file; signals come "
            "as one array of all records, a CSV with one series per row, or a folder with one "
            "file per record",
            where=config.where("data.path"),
        )
    if located.labels is not None:
        source_files.append(located.labels)
    length = cfg.length if cfg.length is not None else int(lengths.max())
    if cfg.fit == "crop":
        _refuse_shorter(
            lengths,
            length,
            located.where,
            f"series are shorter than data.length {length}, and data.fit is crop (which only "
            "shortens); use fit: pad or fit: resample, or a smaller data.length:",
        )
    info = {
        "layout": layout,
        "records": len(lengths),
        "channels": int(channels),
        "length": int(length),
        "length_from": "data.length" if cfg.length is not None else "longest series",
        "fit": cfg.fit,
        "original_length": files.summary(lengths),
        "shorter": int(np.sum(lengths < length)),
        "longer": int(np.sum(lengths > length)),
        "ignored_files": int(located.ignored),
        **decoding,
    }
    table = located.table
    return _samples(table, located.where, get, (length, channels), cfg.fit, source_files, info)


def read_new(path: Path, config, transform) -> Samples:
    """New series for `predict`, brought to the trained length (see the module docstring)."""
    length, channels = transform.shape
    how = transform.info.get("fit", "pad")
    if getattr(config.data, "segments", None) is not None:
        located, get, lengths, have = segments.read_new(path, config)
        table, where = located.table, located.where
    elif path.is_file() and path.suffix.lower() == ".csv":
        located, get, lengths = _from_table(_unlabelled(config), path, None, new=True)
        table, where, have = located.table, located.where, np.ones(len(lengths), dtype=int)
    else:
        decoders = SIGNALS.decoders.configured(config.data)
        records = [d for d in decoders if not {".npy", ".npz", ".csv"} & set(d.suffixes)]
        found = files.batches(path, (length, channels), "signal", "series", records)
        table = pd.DataFrame({"id": pd.Series(found.ids, dtype=object).astype(str)})
        where = found.where
        lengths = np.asarray([found.arrays[f].shape[1] for f, _ in found.index], dtype="int64")
        have = np.asarray([found.arrays[f].shape[2] for f, _ in found.index], dtype="int64")

        def get(i: int) -> np.ndarray:
            return np.asarray(found.row(i), dtype="float64")

    wrong = np.flatnonzero(have != channels)
    if len(wrong):
        raise DataError(
            f"series have {have[wrong[0]]} channel(s); the model was trained on {channels}",
            where=where(int(wrong[0])),
        )
    if how == "crop":
        _refuse_shorter(
            lengths,
            length,
            where,
            f"series are shorter than the trained length {length} (data.fit: crop pads nothing):",
        )
    return _samples(table, where, get, (length, channels), how, [path], {})


def _unlabelled(config):
    """The run's config for new data: no labels, target, group or split column."""
    from dltrain.config.data import RandomSplit

    data = config.data.model_copy(
        update={"labels": None, "target": None, "group": None, "split": RandomSplit()}
    )
    return config.model_copy(update={"data": data})


def _samples(table, where, get, shape, how: str, source_files, info) -> Samples:
    length, channels = shape

    def load(idx: np.ndarray) -> np.ndarray:
        out = np.zeros((len(idx), length, channels), dtype="float32")
        for k, i in enumerate(np.asarray(idx, dtype="int64")):
            out[k] = fit_length(get(int(i)), length, how)
        return out

    return Samples(
        kind="signals",
        table=table,
        load=load,
        where=where,
        files=sorted(source_files),
        shape=(int(length), int(channels)),
        info=info,
    )


def _refuse_shorter(lengths: np.ndarray, length: int, where, message: str) -> None:
    short = np.flatnonzero(lengths < length)
    if len(short):
        raise DataError(
            f"{len(short)} {message}",
            details=files.listed([f"{where(i)}: {lengths[i]} values" for i in short]),
        )


def fit_length(series: np.ndarray, length: int, how: str) -> np.ndarray:
    """A (n, channels) series brought to (length, channels): pad/crop the end, or resample."""
    n = len(series)
    if how == "resample":
        if n == length:
            return series
        new = np.linspace(0.0, n - 1.0, length)
        old = np.arange(n, dtype="float64")
        return np.stack([np.interp(new, old, series[:, c]) for c in range(series.shape[1])], 1)
    if n >= length:
        return series[:length]
    out = np.zeros((length, series.shape[1]), dtype="float64")
    out[:n] = series
    return out


def _from_array(config, source: Path, labels_file: Path | None):
    if labels_file is None:
        labels.labels_required(config, f"the array {source.name}")
    array = files.open_array(source)
    expected = "(records, length) or (records, length, channels)"
    problem = files.array_problem(array, (2, 3), expected)
    if problem is None and array.shape[1] < 2:
        problem = (
            f"has shape {tuple(array.shape)}: series of {array.shape[1]} value(s); at least 2 "
            "are needed"
        )
    if problem is None and len(array) == 0:
        problem = "has no records"
    if problem is not None:
        raise DataError(f"the signals array {problem}", where=str(source))
    located = labels.locate_rows(config, source, len(array), labels_file).build(config)
    files.refuse_nonfinite(array, located, "series")
    rows = located.rows

    def get(i: int) -> np.ndarray:
        values = np.asarray(array[rows[i]], dtype="float64")
        return values[:, None] if values.ndim == 1 else values

    channels = 1 if array.ndim == 2 else array.shape[2]
    lengths = np.full(len(rows), array.shape[1])
    return "array", located, get, lengths, channels


def _from_table(config, source: Path, labels_file: Path | None, *, new: bool = False):
    """The table layout: (located, get, lengths); `new`: predict's (the id column optional)."""
    cfg = config.data
    if labels_file is not None:
        raise ConfigError(
            "a signals CSV with one series per row holds its own labels; remove data.labels "
            "(or give data.path as a folder of one file per record)",
            where=config.where("data.labels"),
        )
    if not new:
        labels.check_roles(config, with_id=True)
    named = labels.roles(cfg, with_id=True)
    table = labels.read_csv(source, strings=[cfg.id, cfg.group, labels.split_column(cfg)])
    if new:
        named = [(key, name) for key, name in named if name in table.frame.columns]
    else:
        labels.check_columns(config, table, named)
    taken = {name for _, name in named}
    value_columns = [c for c in table.frame.columns if c not in taken]
    if len(value_columns) < 2:
        raise DataError(
            f"the CSV has {len(value_columns)} value column(s) besides the id, target, group "
            "and split columns; a series needs at least 2 values, one column each",
            where=str(source),
        )
    if new:
        ids = labels.new_ids(table, cfg.id)
        located = labels.Located(ids, None, table.at, None, table=pd.DataFrame({"id": ids}))
    else:
        ids = labels.label_ids(table, cfg.id)
        located = labels.Located(ids, table.frame, table.at, None).build(config)
    matrix, lengths = _series(table, value_columns)

    def get(i: int) -> np.ndarray:
        return matrix[i, : lengths[i], None]

    return located, get, lengths


def _series(table: labels.CsvFile, value_columns: list[str]):
    """(values, lengths) of a CSV with one series per row; every bad row is listed."""
    problems: list[tuple[int, str]] = []
    matrix = np.empty((len(table.frame), len(value_columns)), dtype="float64")
    for j, name in enumerate(value_columns):
        matrix[:, j] = _numbers(table.frame[name], name, table.at, problems)
    present = ~np.isnan(matrix)
    ends = matrix.shape[1] - np.argmax(present[:, ::-1], axis=1)
    lengths = np.where(present.any(axis=1), ends, 0)
    for i, n in enumerate(lengths):
        gaps = np.flatnonzero(~present[i, :n])
        if len(gaps):
            first = value_columns[gaps[0]]
            problems.append(
                (
                    i,
                    f"{table.at(i)}: {len(gaps)} empty or unreadable value(s) inside the series, "
                    f"first in column {first!r}; only trailing cells may be empty",
                )
            )
        if n < 2:
            problems.append((i, f"{table.at(i)}: the series has {n} value(s); at least 2 needed"))
    _raise(problems)
    matrix[~np.isfinite(matrix)] = 0.0
    return matrix, lengths


def _numbers(column: pd.Series, name: str, at, problems: list) -> np.ndarray:
    """A value column as float64 (empty cells NaN); text and non-finite cells are problems."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        wrong = np.zeros(len(values), dtype=bool)
    else:
        text = column.astype("string").str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        wrong = np.isnan(values) & (text.fillna("") != "").to_numpy()
    huge = np.abs(np.nan_to_num(values, nan=0.0)) > files.FLOAT32_MAX
    for i in np.flatnonzero(wrong):
        problems.append((i, f"{at(i)}: column {name!r} is {column.iloc[i]!r}, not a number"))
    for i in np.flatnonzero(huge):
        value = tabular.plain(column.iloc[i])
        problems.append((i, f"{at(i)}: column {name!r} is {value!r}, not a finite 32-bit number"))
    return values


def _from_files(config, root: Path, labels_file: Path | None):
    decoders = SIGNALS.decoders.configured(config.data)
    field = clinical.header_group(config, decoders)
    located_by = clinical.without_group(config) if field else config
    located = labels.locate_files(located_by, root, labels_file, decoders, "signal")
    located.build(located_by)
    checked = check_records(located.paths, located.where, decoders)
    if field:
        headers = checked.headers
        located.table[field] = clinical.group_values(config, field, headers, located.where)
    record_paths = located.paths

    def get(i: int) -> np.ndarray:
        return decoders.pick(record_paths[i]).load(record_paths[i])

    decoding = decoding_info(config, checked.metas, field)
    return "files", located, get, checked.lengths, checked.channels, decoding


@dataclass
class Checked:
    """Every record decoded once: lengths, the usual channel count, metas and headers."""

    lengths: np.ndarray
    channels: int
    metas: list
    headers: list


def check_records(record_paths: list[Path], where, decoders) -> Checked:
    """Decodes every record once; one `DataError` lists every problem (unreadable, too
    short, a channel count or a rate other than most records')."""
    problems: list[tuple[int, str]] = []
    n = len(record_paths)
    lengths, channels = np.zeros(n, dtype="int64"), np.zeros(n, dtype="int64")
    good = np.zeros(n, dtype=bool)
    metas, headers = [], []
    for i, path in enumerate(record_paths):
        decoded = decoders.pick(path).decode(path, where(i))
        problems += [(i, line) for line in decoded.problems]
        metas.append(decoded.meta)
        headers.append(decoded.header)
        if decoded.sample is not None:
            lengths[i], channels[i] = decoded.sample.shape
            good[i] = not decoded.problems
            if len(decoded.sample) < 2:
                problems.append(
                    (i, f"{where(i)}: the series has {lengths[i]} value(s); at least 2 are needed")
                )
    usual = 1
    if good.any():
        usual = int(files.most_common(channels[good].tolist()))
        for i in np.flatnonzero(good & (channels != usual)):
            problems.append((i, f"{where(i)}: {channels[i]} channel(s); most records have {usual}"))
        problems += _other_rates(metas, good, where)
    _raise(problems)
    return Checked(lengths, usual, metas, headers)


def _other_rates(metas: list[dict], good, where) -> list[tuple[int, str]]:
    rates = [m.get("rate") for m in metas]
    known = [r for r, ok in zip(rates, good, strict=True) if ok and r is not None]
    if not known:
        return []
    usual = files.most_common(known)
    return [
        (
            i,
            f"{where(i)}: sampled at {r:g} Hz, most records at {usual:g} Hz; set data.rate to "
            "resample every record to one rate",
        )
        for i, r in enumerate(rates)
        if good[i] and r is not None and r != usual
    ]


def decoding_info(config, metas: list[dict], field: str | None) -> dict:
    """The manifest's record of the decoding (rate, channels) and where the group came from."""
    out = clinical.summary(metas, ("rate", "original_rate", "channels"))
    if field:
        out["group_from"] = clinical.group_note(config, field)
    return out


def _raise(problems: list[tuple[int, str]]) -> None:
    if problems:
        problems.sort(key=lambda p: p[0])
        raise DataError(
            f"{len(problems)} problem(s) in the signals; fix or remove these records (and their "
            "labels rows) and run again:",
            details=files.listed([line for _, line in problems]),
        )
