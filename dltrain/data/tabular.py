"""Reading and validating tables (CSV, Parquet) before anything is fitted or written.

Every bad row is listed (file:line, column, value, reason) and nothing is
written when one is found: a table that fails here never reaches training.
"""

from __future__ import annotations

import codecs
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dltrain.config.data import ColumnSplit, TabularData
from dltrain.data import inputfiles
from dltrain.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd  # imported where used: a cache hit reads no table

MAX_LISTED = 20
NUMERIC_SHARE = 0.95  # a text column whose values are ≥95% numbers is numeric with typos
REGRESSION_MIN_UNIQUE = 10
FLOAT32_MAX = float(np.finfo("float32").max)  # models compute in float32: beyond is infinity
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Columns:
    """The role of every column the experiment uses."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    target: str
    group: str | None
    id: str | None
    split: str | None


def resolve_data_path(path: str, config_file: str | None) -> Path:
    """The data path as written, relative to the working directory or else to the config.

    Only `dltrain.tuning` (best.yaml) still calls this and `config_file`; dltrain resolves
    data paths with `dltrain.kinds.paths.resolve`, from the config's own folder.
    """
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or candidate.exists() or config_file is None:
        return candidate
    beside = Path(config_file).parent / candidate
    return beside if beside.exists() else candidate


def config_file(where: str | None) -> str | None:
    """The config file of a location such as "configs/x.yaml:5" (None for a --set value)."""
    if where is None or where.startswith("--set"):
        return None
    return where.rsplit(":", 1)[0]


def row_where(source: Path, index: int) -> str:
    """The location of data row `index` (0-based): file:line for CSV, 'row N' otherwise."""
    if source.suffix.lower() in (".parquet", ".pq"):
        return f"{source}, row {index + 1}"
    return f"{source}:{index + 2}"  # line 1 is the header


def plain(value):
    """A cell value as it should read in a message: inf, 3, 'x' (not np.float64(inf))."""
    return value.item() if isinstance(value, np.generic) else value


def read_table(source: Path, cfg: TabularData, where: str | None = None) -> pd.DataFrame:
    """Reads a CSV or Parquet file into a DataFrame; every failure is a `DataError`.

    Args:
        source: the file.
        cfg: the data section (format, delimiter, encoding).
        where: where the path was configured, for the message. Defaults to None.

    Returns:
        The table, untouched apart from parsing.

    Raises:
        DataError: also for a path that is not a regular file (a device, a FIFO) and a
            file over the size limit (`inputfiles.CSV`, `inputfiles.PARQUET`), before it is read.
    """
    return _read(source, cfg, check_table_file(source, cfg, where))


def check_table_file(source: Path, cfg: TabularData, where: str | None = None) -> str:
    """Checks a table file before anything reads it (it exists, is a regular file, is
    within the size limit); returns its format, "csv" or "parquet"."""
    if not source.exists():
        raise DataError(
            f"data file not found: {source}. Check data.path"
            + (f" ({where})" if where else "")
            + "; relative paths are taken from the working directory or the config's folder.",
            where=None,
        )
    if source.is_dir():
        raise DataError(f"data.path {source} is a folder; tabular data needs a CSV or Parquet file")
    fmt = cfg.format
    if fmt == "auto":
        fmt = "parquet" if source.suffix.lower() in (".parquet", ".pq") else "csv"
    fix = "point data.path (or --data) at a CSV or Parquet file"
    inputfiles.check(source, inputfiles.PARQUET if fmt == "parquet" else inputfiles.CSV, fix=fix)
    return fmt


def _read(source: Path, cfg: TabularData, fmt: str) -> pd.DataFrame:
    import pandas as pd

    try:
        if fmt == "parquet":
            too_large = inputfiles.parquet_problem(source)
            if too_large is not None:
                raise DataError(too_large, where=str(source))
            frame = pd.read_parquet(source)
        else:
            _check_header(source, cfg)
            frame = pd.read_csv(source, sep=cfg.delimiter, encoding=cfg.encoding)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(
            "the file is empty; it needs a header line and data rows", where=str(source)
        ) from None
    except pd.errors.ParserError as exc:
        line = _line_from_parser_error(str(exc))
        raise DataError(
            f"cannot parse the CSV: {str(exc).strip()}. A row has more fields than the header: "
            "check for an unquoted delimiter inside a value or a wrong data.delimiter",
            where=f"{source}:{line}" if line else str(source),
        ) from None
    except UnicodeDecodeError:
        raise not_decodable(
            source,
            cfg.encoding,
            "set data.encoding to the file's encoding (e.g. latin-1) or save it as UTF-8",
        ) from None
    except LookupError:
        raise ConfigError(f"unknown text encoding {cfg.encoding!r} in data.encoding") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the file as {fmt}: {exc}", where=str(source)) from None
    if frame.shape[1] == 0:
        raise DataError("the file has no columns", where=str(source))
    if len(frame) == 0:
        raise DataError("the file has a header but no data rows", where=str(source))
    frame.columns = [str(c) for c in frame.columns]
    return frame


def not_decodable(path: Path, encoding: str, fix: str) -> DataError:
    """The error for a file that is not `encoding` text, at the line of its first bad byte.

    The file is decoded in chunks, so a large file is not read into memory at once.
    Lines are counted as newline bytes: exact for UTF-8 and the 8-bit encodings.

    Args:
        path: the file.
        encoding: the encoding it was read with, as the user named it.
        fix: what to do, e.g. "save it as UTF-8".

    Returns:
        A `DataError` at `path:line` saying which byte is wrong.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, line = 0, 1
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    at = max(exc.start - pending, 0)  # in this chunk
                    f.seek(offset + at)
                    bad = f.read(4)
                    line += chunk.count(b"\n", 0, at)
                    return DataError(
                        f"the file is not valid {encoding} text (byte {offset + at}: {bad!r}); "
                        + fix,
                        where=f"{path}:{line}",
                    )
                offset += len(chunk)
                line += chunk.count(b"\n")
    except OSError:
        pass
    return DataError(f"the file is not valid {encoding} text; {fix}", where=str(path))


def _check_header(source: Path, cfg: TabularData) -> None:
    import pandas as pd

    header = pd.read_csv(
        source,
        sep=cfg.delimiter,
        encoding=cfg.encoding,
        # The header line as a data row (nrows=0 would read no names), and the first data
        # row: when it has more fields than the header this is a ParserError, where pandas
        # would otherwise silently take the extra leading field(s) as the index.
        nrows=2,
        header=None,
        dtype=str,
        keep_default_na=False,
    )
    names = [str(v) for v in header.iloc[0]] if len(header) else []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"column {name!r} appears twice in the header; rename one of them",
                where=f"{source}:1",
            )
        seen.add(name)


def _line_from_parser_error(message: str) -> int | None:
    import re

    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def assign_columns(frame: pd.DataFrame, cfg: TabularData, locate) -> Columns:
    """Checks that every configured column exists and decides numeric vs categorical.

    Args:
        frame: the table.
        cfg: the data section.
        locate: `ExperimentConfig.where`, to point at the config line of a bad name.

    Returns:
        The role of each column.
    """
    available = list(frame.columns)
    problems = []

    def check(name: str | None, key: str) -> None:
        if name is not None and name not in available:
            close = difflib.get_close_matches(name, available, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
            problems.append(
                f"{locate(key) or key}: {key}: column {name!r} is not in the data.{hint} "
                f"Columns: {shown}"
            )

    check(cfg.target, "data.target")
    check(cfg.group, "data.group")
    check(cfg.id, "data.id")
    split_col = cfg.split.column if isinstance(cfg.split, ColumnSplit) else None
    check(split_col, "data.split.column")
    for key in ("features", "exclude", "categorical", "numeric"):
        for i, name in enumerate(getattr(cfg, key) or []):
            check(name, f"data.{key}.{i}")
    if problems:
        raise ConfigError(
            f"{len(problems)} configured column(s) not found in the data:", details=problems
        )
    roles = {c for c in (cfg.target, cfg.group, cfg.id, split_col) if c is not None}
    if cfg.features is not None:
        features = [c for c in cfg.features if c not in cfg.exclude]
    else:
        features = [c for c in available if c not in roles and c not in cfg.exclude]
    if not features:
        raise ConfigError(
            "no input columns are left after removing target, group, id, split and excluded "
            "columns; list the inputs in data.features",
            where=locate("data"),
        )
    numeric, categorical = [], []
    for name in features:
        column = frame[name]
        if name in cfg.categorical:
            categorical.append(name)
        elif name in cfg.numeric or _looks_numeric(column):
            numeric.append(name)
        else:
            categorical.append(name)
    return Columns(tuple(numeric), tuple(categorical), cfg.target, cfg.group, cfg.id, split_col)


def _looks_numeric(column: pd.Series) -> bool:
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    present = column.dropna()
    if len(present) == 0:
        return True
    parsed = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    return parsed.notna().mean() >= NUMERIC_SHARE


def numeric_values(frame: pd.DataFrame, columns: tuple[str, ...], source: Path) -> pd.DataFrame:
    """The numeric columns as float64; a value that is not a finite number is a `DataError`.

    Missing cells (empty, NA) stay NaN and are imputed later; text such as "12,5"
    or "n/a?" and infinities are listed, every one, with file:line and column.
    """
    import pandas as pd

    out = {}
    bad = []
    for name in columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = column.astype("float64")
            wrong = pd.Series(False, index=column.index)
        else:
            text = column.astype("string").str.strip()
            values = pd.to_numeric(text, errors="coerce").astype("float64")
            wrong = values.isna() & text.notna() & (text != "")
        infinite = np.isinf(values.to_numpy())
        for i in np.flatnonzero(wrong.to_numpy()):
            bad.append((i, name, plain(column.iloc[i]), "is not a number"))
        for i in np.flatnonzero(infinite):
            bad.append((i, name, plain(column.iloc[i]), "is infinite"))
        too_large = np.abs(np.nan_to_num(values.to_numpy(), posinf=0, neginf=0)) > FLOAT32_MAX
        for i in np.flatnonzero(too_large):
            bad.append((i, name, plain(column.iloc[i]), "is too large for 32-bit floats"))
        out[name] = values.where(~np.isinf(values), np.nan)
    if bad:
        bad.sort()
        lines = [
            f"{row_where(source, i)}: column {name!r}: value {value!r} {why}"
            for i, name, value, why in bad[:MAX_LISTED]
        ]
        if len(bad) > MAX_LISTED:
            lines.append(f"... and {len(bad) - MAX_LISTED} more")
        cols = sorted({name for _, name, _, _ in bad})
        raise DataError(
            f"{len(bad)} value(s) in numeric column(s) {', '.join(map(repr, cols))} are not "
            "finite numbers. Fix them in the file (use an empty cell for a missing value), or "
            "list the column under data.categorical if it is really a category:",
            details=lines,
        )
    return pd.DataFrame(out, index=frame.index)


def missing_rows(frame: pd.DataFrame, column: str, source: Path, role: str) -> None:
    """Raises a `DataError` listing rows where a required column (target, group) is empty."""
    values = frame[column]
    empty = values.isna() | (values.astype("string").str.strip() == "")
    rows = np.flatnonzero(empty.to_numpy())
    if len(rows):
        lines = [f"{row_where(source, i)}: column {column!r} is empty" for i in rows[:MAX_LISTED]]
        if len(rows) > MAX_LISTED:
            lines.append(f"... and {len(rows) - MAX_LISTED} more")
        raise DataError(
            f"{len(rows)} row(s) have no {role} value; fill them in or remove those rows:",
            details=lines,
        )


def infer_task(target: pd.Series, requested: str) -> str:
    """binary, multiclass or regression, from the target column unless stated."""
    import pandas as pd

    if requested != "auto":
        return requested
    n_unique = target.nunique()
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    if numeric:
        values = target.to_numpy(dtype="float64")
        integral = np.all(np.mod(values, 1) == 0)
        if n_unique > REGRESSION_MIN_UNIQUE or not integral:
            return "regression"
    if n_unique == 2:
        return "binary"
    return "multiclass"


def class_labels(target: pd.Series) -> pd.Series:
    """Target values as the strings used for class names (1.0 → "1")."""
    import pandas as pd

    if pd.api.types.is_float_dtype(target):
        values = target.to_numpy()
        if np.all(np.mod(values[~np.isnan(values)], 1) == 0):
            return target.astype("Int64").astype("string")
    return target.astype("string").str.strip()


def sorted_classes(labels: pd.Series) -> list[str]:
    """Classes in a natural order: numerically if they are all numbers, else alphabetically."""
    import pandas as pd

    unique = list(pd.unique(labels.dropna()))
    try:
        return sorted(unique, key=float)
    except ValueError:
        return sorted(unique)
