"""Text: a column of a CSV, or a folder of text files (UTF-8 .txt).

Layouts, told apart by `data.path`:
- a CSV (no `data.labels`): the `data.text` column (read verbatim: "NA" is a text, an
  empty cell is an empty text), the target column(s), the group and split columns if
  configured, and the `data.id` column. Without that column the ids are the 1-based row
  numbers ("1", "2", ...) — unless `data.id` was set explicitly, when its absence is a
  config error with a did-you-mean.
- a folder per class (no `data.labels`): `path/<class>/<file>.txt` (extension in any case;
  hidden files skipped, others ignored and counted); the class is the folder name; the id
  is "<class>/<file>". With `target: null` every .txt under `path` is a sample.
- a folder and a labels CSV: its `data.id` column holds each file's path relative to `path`.
- predict: a CSV with the run's `data.text` column (ids from its `data.id` column, or 1,
  2, ...), or a text file with one text per line (blank lines skipped; ids 1, 2, ...).

Files are decoded by the format's decoder (`dltrain.kinds.text.decoders`: UTF-8, a leading
byte-order mark dropped); a file that is not UTF-8 is an error naming it and the first bad
byte; a file over `inputfiles.TEXT` (256 MiB) is refused unread. Empty or whitespace-only
texts are an error listing every one. Texts are kept as read (not stripped, not lower-
cased): they are vectorised later, with a vocabulary fitted on the training split only. All
texts are held in memory (`load` gives an object array of str).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dltrain.data import inputfiles
from dltrain.errors import ConfigError, DataError, UsageError
from dltrain.kinds import files, labels, paths
from dltrain.kinds.base import NEW_DATA_FIX, Samples
from dltrain.kinds.text import TEXT


def read(config) -> Samples:
    """Finds, decodes and checks every text; see the module docstring for the layouts."""
    root = paths.data_path(config)
    labels_file = paths.labels_path(config)
    if root.is_dir():
        layout, table, texts, where_row, source_files = _from_folder(config, root, labels_file)
    else:
        layout = "csv"
        table, texts, where_row = _from_csv(config, root, labels_file)
        source_files = [root]
    what = f"column {config.data.text!r} is empty" if layout == "csv" else "the text is empty"
    info = {
        "layout": layout,
        "texts": len(texts),
        "encoding": "utf-8",
        "characters": files.summary([len(t) for t in texts]),
    }
    return _samples(table, texts, where_row, what, sorted(source_files), info)


def read_new(path: Path, config, transform) -> Samples:
    """New texts for `predict` (see the module docstring)."""
    column = config.data.text
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a .txt (one text per line) or a .csv file")
    if path.suffix.lower() == ".csv":
        csv_file = labels.read_csv(path, verbatim=[config.data.id, column])
        if column not in csv_file.frame.columns:
            raise DataError(f"{path} has no {column!r} column (the text column of the run)")
        ids = labels.new_ids(csv_file, config.data.id)
        texts = [str(t) for t in csv_file.frame[column]]
        table = pd.DataFrame({"id": ids})
        return _samples(table, texts, csv_file.at, f"column {column!r} is empty", [path], {})
    inputfiles.check(path, inputfiles.TEXT, fix=NEW_DATA_FIX)
    decoders = TEXT.decoders
    decoded = (decoders.pick(path) or decoders[0]).decode(path, str(path))
    if decoded.problems:
        raise DataError(decoded.problems[0])
    texts = [line for line in decoded.sample.splitlines() if line.strip()]
    if not texts:
        raise DataError(f"{path} holds no text; give one text per line")
    table = pd.DataFrame({"id": [str(i + 1) for i in range(len(texts))]})
    return _samples(table, texts, lambda i: f"{path}, text {i + 1}", "", [path], {})


def _samples(table, texts: list[str], where_row, what: str, source_files, info) -> Samples:
    """The samples of some texts; an empty or whitespace-only text is an error."""
    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        raise DataError(
            f"{len(empty)} text(s) are empty or only whitespace; write the text or remove "
            "the sample:",
            details=files.listed([f"{where_row(i)}: {what}" for i in empty]),
        )
    array = np.empty(len(texts), dtype=object)
    array[:] = texts

    def load(idx: np.ndarray) -> np.ndarray:
        return array[np.asarray(idx, dtype="int64")]

    return Samples(
        kind="text",
        table=table,
        load=load,
        where=where_row,
        files=source_files,
        shape=(),
        info=info,
    )


def _from_csv(config, source: Path, labels_file: Path | None):
    cfg = config.data
    if labels_file is not None:
        raise ConfigError(
            "a text CSV holds its own labels; remove data.labels (or give data.path as a "
            "folder of .txt files)",
            where=config.where("data.labels"),
        )
    csv_file = labels.read_csv(
        source, strings=[cfg.id, cfg.group, labels.split_column(cfg)], verbatim=[cfg.text]
    )
    has_id = cfg.id in csv_file.frame.columns or "id" in cfg.model_fields_set
    labels.check_roles(config, with_id=has_id, text=True)
    labels.check_columns(config, csv_file, labels.roles(cfg, with_id=has_id, text=True))
    if has_id:
        ids = labels.label_ids(csv_file, cfg.id)
    else:
        ids = [str(i + 1) for i in range(len(csv_file.frame))]
    table = labels.build_table(config, ids, csv_file.frame, csv_file.at)
    texts = [str(t) for t in csv_file.frame[cfg.text]]
    return table, texts, csv_file.at


def _from_folder(config, root: Path, labels_file: Path | None):
    decoders = TEXT.decoders
    if labels_file is None:
        found, ids, columns, where_row = _class_folders(config, root)
        layout, source_files = "folders", list(found)
    else:
        csv_file = labels.read_labels(config, labels_file)
        ids = [labels.normalise_id(i) for i in labels.label_ids(csv_file, config.data.id)]
        scanned, _ = files.scan_files(root, decoders, recursive=True, skip=labels_file)
        by_id = {labels.relative_id(p, root): p for p in scanned}
        found = labels.match_files(by_id, csv_file, ids, root, "text")
        columns, layout, source_files = csv_file.frame, "labels", [*found, labels_file]

        def where_row(i: int) -> str:
            return f"{found[i]} ({csv_file.at(i)})"

    table = labels.build_table(config, ids, columns, where_row)
    texts, problems = [], []
    for i, path in enumerate(found):
        decoded = decoders.pick(path).decode(path, where_row(i))
        problems += decoded.problems
        texts.append(decoded.sample if decoded.sample is not None else "")
    if problems:
        raise DataError(
            f"{len(problems)} text file(s) cannot be read; fix or remove them:",
            details=files.listed(problems),
        )
    return layout, table, texts, where_row, source_files


def _class_folders(config, root: Path):
    """(files, ids, target column or None, where) of a folder per class (or every file)."""
    decoders = TEXT.decoders
    targets = labels.target_columns(config.data)
    labels.need_labels_file(config, "a folder per class")
    labels.check_roles(config, with_id=False)
    if targets:
        found, classes, _ = files.class_folders(root, decoders)
        ids = [f"{c}/{p.name}" for c, p in zip(classes, found, strict=True)]
        columns = pd.DataFrame({targets[0]: pd.Series(classes, dtype=object).astype(str)})
    else:
        found, _ = files.scan_files(root, decoders, recursive=True)
        ids = [labels.relative_id(p, root) for p in found]
        columns = None
    if not found:
        raise DataError(
            f"no {decoders.formats} files found in {root}"
            + (" (one sub-folder per class, .txt files inside)" if targets else "")
            + f"; check data.path ({config.where('data.path')})"
        )

    def where_row(i: int) -> str:
        return str(found[i])

    return found, ids, columns, where_row
