"""Labels and sample tables of the file kinds (images, signals, text, volumes).

The labels CSV read with every failure as a `DataError`, configured columns checked
against it (a `ConfigError` with a did-you-mean, like `tabular.assign_columns`), labels
matched to files or array rows, and the sample table built and checked: unique ids, no
missing target or group, multilabel cells that are 0/1. Every problem is listed with
where it is.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from dltrain.config.data import ColumnSplit
from dltrain.data import inputfiles, tabular
from dltrain.errors import ConfigError, DataError
from dltrain.kinds.files import listed, scan_files

MULTILABEL_VALUES = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


def target_columns(cfg) -> list[str]:
    """The target column(s) as a list: [] for `target: null`."""
    if cfg.target is None:
        return []
    return [cfg.target] if isinstance(cfg.target, str) else list(cfg.target)


def split_column(cfg) -> str | None:
    return cfg.split.column if isinstance(cfg.split, ColumnSplit) else None


def roles(cfg, *, with_id: bool, text: bool = False) -> list[tuple[str, str]]:
    """(config key, column) of every column a reader takes from a CSV."""
    named = [("data.id", cfg.id)] if with_id else []
    named += [("data.target", name) for name in target_columns(cfg)]
    if cfg.group is not None:
        named.append(("data.group", cfg.group))
    if split_column(cfg) is not None:
        named.append(("data.split.column", split_column(cfg)))
    if text:
        named.append(("data.text", cfg.text))
    return named


def check_roles(config, *, with_id: bool, text: bool = False) -> None:
    """Refuses one column in two roles, and "id" (the table's own id column) as a non-id role."""
    cfg = config.data
    if isinstance(cfg.target, list) and not cfg.target:
        raise ConfigError(
            "data.target is an empty list; name the 0/1 label column(s), or use null for a "
            "model without a target (autoencoder)",
            where=config.where("data.target"),
        )
    problems = []
    named = roles(cfg, with_id=with_id, text=text)
    for i, (k1, v1) in enumerate(named):
        for k2, v2 in named[i + 1 :]:
            if v1 == v2:
                problems.append(f"{k1} and {k2} are the same column {v1!r}")
        if v1 == "id" and k1 != "data.id":
            problems.append(
                f"{k1} is 'id', the name dltrain gives the sample id; rename that column"
            )
    if problems:
        raise ConfigError(
            "each column can have one role only: " + "; ".join(problems),
            where=config.where("data"),
        )


def need_labels_file(config, layout: str) -> None:
    """Folder-per-class data has no column for a group, a split or several targets."""
    cfg = config.data
    needs = []
    if isinstance(cfg.target, list):
        needs.append(("data.target", "several target columns (multilabel)"))
    if cfg.group is not None:
        needs.append(("data.group", "a group column"))
    if split_column(cfg) is not None:
        needs.append(("data.split.column", "a split column"))
    if needs:
        key, what = needs[0]
        raise ConfigError(
            f"{what} needs a labels CSV, which {layout} does not have: set data.labels to a "
            f"CSV with a column {cfg.id!r} (each file's path relative to data.path, e.g. "
            "'benign/b1.png'), the target column(s) and the group or split column",
            where=config.where(key),
        )


@dataclass
class CsvFile:
    """A CSV as read, with the 1-based line of each row for messages."""

    path: Path
    frame: pd.DataFrame
    lines: np.ndarray

    def at(self, i: int) -> str:
        return f"{self.path}:{self.lines[i]}"


def read_csv(path: Path, *, strings=(), verbatim=()) -> CsvFile:
    """Reads a CSV; every failure is a `DataError` naming the file.

    Args:
        path: the file.
        strings: columns read as str (ids, groups, split names: "007" stays "007").
        verbatim: columns read as str with no missing-value words ("NA" stays "NA" in a
            text); an empty cell is "".

    Returns:
        The table (other columns typed by pandas: numbers or strings) and its row lines.

    Raises:
        DataError: also for a path that is not a regular file and a file over `inputfiles.CSV`.
    """
    inputfiles.check(path, inputfiles.CSV)
    try:
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
        names = [str(v) for v in header.iloc[0]] if len(header) else []
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DataError(
                f"column {dupes[0]!r} appears twice in the header; rename one of them",
                where=f"{path}:1",
            )
        frame = pd.read_csv(path, dtype={c: str for c in strings if c in names})
        keep = [c for c in verbatim if c in names]
        if keep:
            raw = pd.read_csv(path, usecols=keep, dtype=str, keep_default_na=False)
            for c in keep:
                frame[c] = raw[c]
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(
            "the file is empty; it needs a header line and data rows", where=str(path)
        ) from None
    except pd.errors.ParserError as exc:
        raise DataError(
            f"cannot parse the CSV: {str(exc).strip()}. Check for an unquoted comma inside a value",
            where=str(path),
        ) from None
    except UnicodeDecodeError:
        raise tabular.not_decodable(path, "UTF-8", "save it as UTF-8") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the file as CSV: {exc}", where=str(path)) from None
    if len(frame) == 0:
        raise DataError("the file has a header but no data rows", where=str(path))
    frame.columns = [str(c) for c in frame.columns]
    return CsvFile(path, frame, _record_lines(path, len(frame)))


def _record_lines(path: Path, n: int) -> np.ndarray:
    """The line each data row starts on (quoted values may span lines); else row + 2."""
    lines = []
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            reader = csv.reader(f)
            next(reader, None)
            start = reader.line_num + 1
            for record in reader:
                if record and not (len(record) == 1 and not record[0].strip()):
                    lines.append(start)
                start = reader.line_num + 1
    except (OSError, csv.Error):
        lines = []
    if len(lines) != n:  # parsed differently from pandas: fall back to one line per row
        return np.arange(n) + 2
    return np.asarray(lines)


def check_columns(config, csv_file: CsvFile, named: list[tuple[str, str]]) -> None:
    """A `ConfigError` for every configured column missing from the CSV, with did-you-mean."""
    available = list(csv_file.frame.columns)
    problems = []
    for key, name in named:
        if name not in available:
            close = [c for c in available if c.lower() == name.lower()]
            close = close or difflib.get_close_matches(name, available, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
            problems.append(
                f"{config.where(key) or key}: {key}: column {name!r} is not in "
                f"{csv_file.path}.{hint} Columns: {shown}"
            )
    if problems:
        raise ConfigError(
            f"{len(problems)} configured column(s) not found in the data:", details=problems
        )


def read_labels(config, path: Path) -> CsvFile:
    """The labels CSV, with its id, target(s), group and split columns checked."""
    cfg = config.data
    check_roles(config, with_id=True)
    named = roles(cfg, with_id=True)
    labels = read_csv(path, strings=[cfg.id, cfg.group, split_column(cfg)])
    check_columns(config, labels, named)
    return labels


def label_ids(labels: CsvFile, id_column: str) -> list[str]:
    """The ids of a labels file, stripped; a missing or repeated id is a `DataError`."""
    column = labels.frame[id_column]
    empty = [i for i, v in enumerate(column) if pd.isna(v) or not str(v).strip()]
    if empty:
        raise DataError(
            f"{len(empty)} row(s) of the labels file have no {id_column!r}; every sample needs "
            "one:",
            details=listed([f"{labels.at(i)}: column {id_column!r} is empty" for i in empty]),
        )
    ids = [str(v).strip() for v in column]
    check_unique(ids, labels.at)
    return ids


def new_ids(csv_file: CsvFile, id_column: str) -> list[str]:
    """The ids of new data for `predict`: the id column as written (an empty cell is ""),
    or 1, 2, ... when the file has no such column. They name the output rows only, so they
    are not checked."""
    if id_column not in csv_file.frame.columns:
        return [str(i + 1) for i in range(len(csv_file.frame))]
    return [str(v) for v in csv_file.frame[id_column].astype("string").fillna("")]


def check_unique(ids: list[str], where_row: Callable[[int], str]) -> None:
    """Raises a `DataError` listing every id that names more than one sample."""
    seen: dict[str, list[int]] = {}
    for i, sample_id in enumerate(ids):
        seen.setdefault(sample_id, []).append(i)
    dupes = [(k, rows) for k, rows in seen.items() if len(rows) > 1]
    if dupes:
        raise DataError(
            f"{len(dupes)} id(s) appear more than once; every sample needs its own id (remove "
            "the repeated rows or give them distinct ids):",
            details=listed(
                [f"id {k!r}: {', '.join(where_row(i) for i in rows)}" for k, rows in dupes]
            ),
        )


def relative_id(path: Path, root: Path) -> str:
    """A file's id: its path relative to `root`, with forward slashes."""
    return path.relative_to(root).as_posix()


def normalise_id(text: str) -> str:
    """An id as a relative path: "a\\b.png" and "./a/b.png" become "a/b.png"."""
    return PurePosixPath(text.strip().replace("\\", "/")).as_posix()


def match_files(
    found: dict[str, Path], labels: CsvFile, ids: list[str], root: Path, what: str
) -> list[Path]:
    """The file of each labels row; rows without a file and files without a row are an error.

    Args:
        found: id → file, for every candidate file under `root`.
        labels: the labels file.
        ids: the id of each of its rows (see `label_ids`).
        root: the data folder, for messages.
        what: the kind of file, for messages ("image", "signal").
    """
    no_file = [i for i, sample_id in enumerate(ids) if sample_id not in found]
    known = set(ids)
    no_row = sorted(k for k in found if k not in known)
    if no_file or no_row:
        lines = listed(
            [f"{labels.at(i)}: id {ids[i]!r} has no {what} file in {root}" for i in no_file]
        ) + listed([f"{found[k]}: no row with id {k!r} in {labels.path}" for k in no_row])
        raise DataError(
            f"the labels file and the {what} files do not match: {len(no_file)} labels "
            f"row(s) without a file, {len(no_row)} file(s) without a labels row. Every sample "
            "needs both: fix the ids, or add or remove the files or rows:",
            details=lines,
        )
    return [found[sample_id] for sample_id in ids]


def match_rows(n: int, source: Path, labels: CsvFile, ids: list[str]) -> np.ndarray:
    """The array row of each labels row: the id must be the row number, 0 to n-1.

    Ids that are not row numbers, two ids for one row ("3" and "03") and array rows that
    no labels row names are one `DataError` listing each.
    """
    rows = np.full(len(ids), -1, dtype="int64")
    lines, first = [], {}
    for i, sample_id in enumerate(ids):
        if not sample_id.isascii() or not sample_id.isdigit() or int(sample_id) >= n:
            lines.append(f"{labels.at(i)}: id {sample_id!r} is not a row number from 0 to {n - 1}")
            continue
        rows[i] = int(sample_id)
        if rows[i] in first:
            lines.append(
                f"{labels.at(i)}: id {sample_id!r} names row {rows[i]} again (first at "
                f"{labels.at(first[rows[i]])})"
            )
        first.setdefault(rows[i], i)
    lines = listed(lines)
    unlabelled = np.setdiff1d(np.arange(n), rows)
    lines += listed([f"{source}[{r}]: no labels row has id {r}" for r in unlabelled])
    if len(lines):
        raise DataError(
            f"the labels file and the rows of {source.name} ({n} rows) do not match: the id "
            "column of the labels must hold each row number of the array (0 for the first row) "
            "exactly once:",
            details=lines,
        )
    return rows


def build_table(
    config,
    ids: list[str],
    columns: pd.DataFrame | None,
    where_row: Callable[[int], str],
) -> pd.DataFrame:
    """The sample table: "id", the target column(s), the group and split columns.

    Args:
        config: the experiment.
        ids: one id per sample, in table order.
        columns: the rows (in table order) holding the target/group/split columns, or None
            when there are none.
        where_row: sample index → location, for messages.

    Returns:
        The table, index 0..n-1. Ids must be unique; a missing target or group value and a
        multilabel cell that is not 0/1 are a `DataError` listing every one.
    """
    cfg = config.data
    check_unique(ids, where_row)
    table = pd.DataFrame({"id": pd.Series(ids, dtype=object).astype(str)})
    problems = []
    targets = target_columns(cfg)
    for name in targets:
        values = columns[name].reset_index(drop=True)
        table[name] = values
        for i in np.flatnonzero(_empty(values)):
            problems.append((i, f"{where_row(i)}: target column {name!r} is empty"))
        if isinstance(cfg.target, list):
            text = values.astype("string").str.strip().str.lower()
            wrong = ~text.isin(list(MULTILABEL_VALUES)).fillna(False).to_numpy() & ~_empty(values)
            for i in np.flatnonzero(wrong):
                problems.append(
                    (
                        i,
                        f"{where_row(i)}: target column {name!r} is "
                        f"{tabular.plain(values.iloc[i])!r}, not 0/1 (or true/false)",
                    )
                )
    for key, name in (("group", cfg.group), ("split", split_column(cfg))):
        if name is None:
            continue
        values = columns[name].reset_index(drop=True)
        table[name] = values
        if key == "group":
            for i in np.flatnonzero(_empty(values)):
                problems.append((i, f"{where_row(i)}: group column {name!r} is empty"))
    if problems:
        problems.sort(key=lambda p: p[0])
        raise DataError(
            f"{len(problems)} label cell(s) are missing or invalid; fill them in or remove those "
            "samples:",
            details=listed([line for _, line in problems]),
        )
    return table


def _empty(values: pd.Series) -> np.ndarray:
    return (values.isna() | (values.astype("string").str.strip() == "")).fillna(True).to_numpy()


@dataclass
class Located:
    """Samples found and matched to their labels.

    Attributes:
        ids: one per sample, in table order.
        columns: the labels rows in the same order (None: no labels file).
        where: sample index → location.
        labels: the labels file, or None.
        paths: one file per sample (folder layouts).
        rows: the array row of each sample (array layouts).
        ignored: files in the folder that are not samples.
        table: the checked sample table, once `build` has run.
    """

    ids: list[str]
    columns: pd.DataFrame | None
    where: Callable[[int], str]
    labels: Path | None
    paths: list[Path] | None = None
    rows: np.ndarray | None = None
    ignored: int = 0
    table: pd.DataFrame | None = None

    def build(self, config) -> Located:
        """Builds and checks the sample table (see `build_table`); returns self."""
        self.table = build_table(config, self.ids, self.columns, self.where)
        return self


def labels_required(config, what: str) -> None:
    """A target (or group, split column) with no labels CSV to hold it is a `ConfigError`."""
    cfg = config.data
    for key, value in (
        ("data.target", cfg.target),
        ("data.group", cfg.group),
        ("data.split.column", split_column(cfg)),
    ):
        if value is not None:
            raise ConfigError(
                f"{key} is set but data.labels is not: {what} needs a labels CSV with the "
                f"columns {cfg.id!r} and {value!r}. Set data.labels, or use target: null for a "
                "model without a target",
                where=config.where(key),
            )


def locate_rows(config, source: Path, n: int, labels_file: Path | None) -> Located:
    """The rows of one array file, matched to the labels CSV (whose ids are row numbers)."""
    if labels_file is None:
        labels_required(config, f"the array {source.name}")
        return Located(
            [str(r) for r in range(n)], None, lambda i: f"{source}[{i}]", None, rows=np.arange(n)
        )
    labels = read_labels(config, labels_file)
    rows = match_rows(n, source, labels, label_ids(labels, config.data.id))
    return Located(
        [str(r) for r in rows],
        labels.frame,
        lambda i: f"{source}[{rows[i]}] ({labels.at(i)})",
        labels_file,
        rows=rows,
    )


def locate_files(config, root: Path, labels_file: Path | None, decoders, what: str) -> Located:
    """One file per sample in `root` (not in sub-folders), id = file name without extension."""
    paths, ignored = scan_files(root, decoders, recursive=False, skip=labels_file)
    by_stem: dict[str, list[Path]] = {}
    for path in paths:
        by_stem.setdefault(decoders.stem(path), []).append(path)
    clashes = [f"{', '.join(map(str, ps))}" for ps in by_stem.values() if len(ps) > 1]
    if clashes:
        raise DataError(
            f"{len(clashes)} name(s) are used by two {what} files (the id is the file name "
            "without extension); rename or remove one of each:",
            details=listed(clashes),
        )
    if not paths:
        raise DataError(
            f"no {what} files ({', '.join(sorted(decoders.suffixes))}) found in {root}; "
            f"check data.path ({config.where('data.path')})"
        )
    found = {stem: ps[0] for stem, ps in by_stem.items()}
    if labels_file is None:
        labels_required(config, f"a folder of {what} files")
        return Located(
            list(found), None, lambda i: str(paths[i]), None, paths=paths, ignored=ignored
        )
    labels = read_labels(config, labels_file)
    ids = label_ids(labels, config.data.id)
    matched = match_files(found, labels, ids, root, what)
    return Located(
        ids,
        labels.frame,
        lambda i: f"{matched[i]} ({labels.at(i)})",
        labels_file,
        paths=matched,
        ignored=ignored,
    )
