"""A first look at a dataset for `dltrain init`: its kind, columns, target, id and group.

Nothing is fitted or written: `survey(path)` reads a table (CSV/Parquet), an array file
(.npy, with a labels CSV beside it) or a folder (one sub-folder of images or .txt files per
class, or an array file with its labels) and returns a `Survey` of what it found and the
guesses a starter config needs, each with the reason it was made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dltrain.errors import DataError, UsageError

TABLES = (".csv", ".tsv", ".parquet", ".pq")
IMAGES = (".png", ".jpg", ".jpeg")
TEXTS = (".txt",)
LABEL_FILES = ("labels.csv", "label.csv", "targets.csv")
TARGET_NAMES = ("target", "label", "labels", "class", "diagnosis", "outcome", "y", "status")
ID_NAMES = re.compile(r"(^|_)(id|uid|identifier|key)$|^(sample|record|row)_?(id|no|number)?$")
GROUP_NAMES = re.compile(r"patient|subject|participant|person|group|block|category|case|site")
MAX_CLASSES = 30  # more distinct values than this: a number to predict, not a class
SAMPLE_ROWS = 200_000
SAMPLE_FILES = 50  # image sizes are read from this many files per class at most


@dataclass
class Column:
    name: str
    type: str  # numeric | categorical | text
    distinct: int
    missing: int


@dataclass
class Survey:
    """What `dltrain init` found in a dataset and what it guesses."""

    path: Path
    kind: str  # tabular | images | signals | text | volumes
    samples: int
    labels: Path | None = None
    columns: list[Column] = field(default_factory=list)
    target: str | None = None
    task: str | None = None  # binary | multiclass | regression | None (no target)
    classes: dict[str, int] = field(default_factory=dict)  # class → count
    id: str | None = None
    group: str | None = None
    text: str | None = None
    shape: tuple[int, ...] | None = None  # one sample's array shape
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # images: min/median/max
    notes: list[str] = field(default_factory=list)  # why each guess was made


def survey(path: Path, kind: str | None = None, target: str | None = None) -> Survey:
    """Looks at `path` (a table, an array file or a folder) and guesses a starter config.

    Args:
        path: the data.
        kind: the data kind, when the guess is not wanted. Defaults to None (guessed).
        target: the column to predict. Defaults to None (guessed).

    Raises:
        UsageError: the path does not exist, or holds nothing dltrain can read.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such file or folder: {path}")
    if path.is_dir():
        found = _folder(path, kind)
    elif path.suffix.lower() in TABLES:
        found = _table_survey(path, kind)
    elif path.suffix.lower() == ".npy":
        found = _array(path, _labels_beside(path), kind)
    else:
        raise UsageError(
            f"{path}: dltrain init reads a table ({', '.join(TABLES)}), an .npy array with "
            "a labels CSV beside it, or a folder (one sub-folder per class)"
        )
    if target is not None:
        _set_target(found, target)
    return found


# --- tables --------------------------------------------------------------------------------


def read_table(path: Path):
    import pandas as pd

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path).head(SAMPLE_ROWS)
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        return pd.read_csv(path, sep=sep, nrows=SAMPLE_ROWS, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as a table: {exc}", where=str(path)) from None


def columns_of(frame) -> list[Column]:
    """Each column's type: numeric (every non-empty value a number), text (long free
    text: several words, mostly distinct) or categorical."""
    import pandas as pd

    out = []
    for name in frame.columns:
        raw = frame[name].astype("string").str.strip()
        empty = raw.isna() | (raw == "")
        values = raw[~empty]
        numbers = pd.to_numeric(values, errors="coerce")
        words = values.str.split().str.len().mean() if len(values) else 0
        if len(values) and numbers.notna().all():
            kind = "numeric"
        elif words >= 3 and values.nunique() > 0.5 * len(values):
            kind = "text"
        else:
            kind = "categorical"
        out.append(Column(str(name), kind, int(values.nunique()), int(empty.sum())))
    return out


def _table_survey(path: Path, kind: str | None) -> Survey:
    frame = read_table(path)
    if frame.empty:
        raise DataError(f"{path} has no rows", where=str(path))
    columns = columns_of(frame)
    text = next((c.name for c in columns if c.type == "text"), None)
    chosen = kind or ("text" if text else "tabular")
    found = Survey(path, chosen, len(frame), columns=columns)
    if chosen == "text":
        found.text = text or "text"
        found.notes.append(f"column {found.text!r} holds free text: a text model reads it")
    _roles(found, frame)
    return found


def _roles(found: Survey, frame) -> None:
    """Guesses the id, group and target columns of a table (or labels file)."""
    n = len(frame)
    by_name = {c.name: c for c in found.columns}
    taken = {found.text}
    for c in found.columns:
        if c.distinct == n and c.missing == 0 and ID_NAMES.search(c.name.lower()):
            found.id = c.name
            found.notes.append(f"{c.name!r} is distinct on every row: the sample id")
            break
    taken.add(found.id)
    for c in found.columns:
        if c.name not in taken and GROUP_NAMES.search(c.name.lower()) and 1 < c.distinct < n:
            found.group = c.name
            found.notes.append(
                f"{c.name!r} repeats ({c.distinct} values for {n} rows): the group (e.g. "
                "patient), so that a group never spans two splits"
            )
            break
    taken.add(found.group)
    free = [c for c in found.columns if c.name not in taken]
    named = [c for c in free if c.name.lower() in TARGET_NAMES]
    few = [c for c in free if 1 < c.distinct <= MAX_CLASSES and c.distinct < n / 2]
    pick = named[0] if named else (few[-1] if few else None)
    if pick is None:
        found.notes.append("no column looks like a target: learning without labels")
        return
    why = "its name" if named else f"the last column with few values ({pick.distinct})"
    _set_target(found, pick.name, frame=frame, column=by_name[pick.name], why=why)


def _set_target(found: Survey, name: str, frame=None, column=None, why="you chose it") -> None:
    if frame is None:
        frame = read_table(found.labels or found.path)
        column = next((c for c in columns_of(frame) if c.name == name), None)
    if column is None or name not in frame.columns:
        known = ", ".join(map(str, frame.columns))
        raise UsageError(f"--target {name!r} is not a column of the data; its columns: {known}")
    found.target = name
    values = frame[name].astype("string").str.strip()
    values = values[values.notna() & (values != "")]
    if column.type == "numeric" and column.distinct > MAX_CLASSES:
        found.task = "regression"
    else:
        found.task = "binary" if column.distinct == 2 else "multiclass"
        counts = values.value_counts()
        found.classes = {str(k): int(v) for k, v in counts.sort_index().items()}
    found.notes.append(f"target {name!r} ({found.task}), chosen by {why}")


# --- arrays and folders --------------------------------------------------------------------


def _labels_beside(path: Path) -> Path | None:
    return next((path.parent / n for n in LABEL_FILES if (path.parent / n).is_file()), None)


def _array(path: Path, labels: Path | None, kind: str | None) -> Survey:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as a NumPy array: {exc}", where=str(path)) from None
    shape = tuple(int(d) for d in array.shape[1:])
    guess = "signals" if len(shape) <= 2 else "volumes"
    found = Survey(path, kind or guess, int(array.shape[0]), labels=labels, shape=shape)
    found.notes.append(f"{array.shape[0]} samples of shape {shape}: {found.kind}")
    if labels is None:
        found.notes.append(f"no labels file ({' or '.join(LABEL_FILES)}) beside {path.name}")
        return found
    frame = read_table(labels)
    found.columns = columns_of(frame)
    _roles(found, frame)
    return found


def _folder(path: Path, kind: str | None) -> Survey:
    arrays = sorted(path.glob("*.npy"))
    if arrays:
        return _array(arrays[0], _labels_beside(arrays[0]), kind)
    tables = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLES)
    if len(tables) == 1:
        return _table_survey(tables[0], kind)
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = {c.name: [f for f in sorted(c.iterdir()) if f.is_file()] for c in classes}
    images = {c: [f for f in fs if f.suffix.lower() in IMAGES] for c, fs in files.items()}
    texts = {c: [f for f in fs if f.suffix.lower() in TEXTS] for c, fs in files.items()}
    if sum(map(len, images.values())) >= sum(map(len, texts.values())) and any(images.values()):
        found = _classes(path, kind or "images", images)
        found.sizes = _image_sizes(images)
        return found
    if any(texts.values()):
        return _classes(path, kind or "text", texts)
    raise UsageError(
        f"{path}: found no table, no .npy array and no sub-folders of images or .txt files "
        "(one sub-folder per class); point dltrain init at the data file itself"
    )


def _classes(path: Path, kind: str, files: dict[str, list[Path]]) -> Survey:
    counts = {c: len(fs) for c, fs in files.items() if fs}
    found = Survey(path, kind, sum(counts.values()), classes=counts)
    found.target = "label"
    found.task = "binary" if len(counts) == 2 else "multiclass"
    found.notes.append(f"one sub-folder per class: {len(counts)} classes ({found.task})")
    return found


def _image_sizes(images: dict[str, list[Path]]) -> dict[str, tuple[int, int]]:
    from PIL import Image

    sizes = []
    for files in images.values():
        for f in files[:SAMPLE_FILES]:
            try:
                with Image.open(f) as im:
                    sizes.append((im.height, im.width))
            except OSError:
                continue
    if not sizes:
        return {}
    heights, widths = np.array(sizes).T
    pick = {"min": np.min, "median": np.median, "max": np.max}
    return {k: (int(f(heights)), int(f(widths))) for k, f in pick.items()}
