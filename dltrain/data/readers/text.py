"""Text: a column of a CSV, or a folder of UTF-8 .txt files.

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

Files are decoded as UTF-8 (a leading byte-order mark is dropped); a file that is not
UTF-8 is an error naming it and the first bad byte; a file over `inputfiles.TEXT`
(256 MiB) is refused unread. Empty or whitespace-only texts are an error listing every
one. Texts are kept as read (not stripped, not lower-cased): they are vectorised later,
with a vocabulary fitted on the training split only. All texts are held in memory
(`load` gives an object array of str).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dltrain.data import inputfiles
from dltrain.data.readers import common
from dltrain.data.sources import Samples
from dltrain.errors import ConfigError, DataError

SUFFIXES = {".txt"}


def read(config) -> Samples:
    """Finds, decodes and checks every text; see the module docstring for the layouts."""
    cfg = config.data
    root = common.data_path(config)
    labels_file = common.labels_path(config)
    if root.is_dir():
        layout, table, texts, where_row, files = _from_folder(config, root, labels_file)
    else:
        layout = "csv"
        table, texts, where_row = _from_csv(config, root, labels_file)
        files = [root]
    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        what = f"column {cfg.text!r} is empty" if layout == "csv" else "the text is empty"
        raise DataError(
            f"{len(empty)} text(s) are empty or only whitespace; write the text or remove "
            "the sample:",
            details=common.listed([f"{where_row(i)}: {what}" for i in empty]),
        )
    array = np.empty(len(texts), dtype=object)
    array[:] = texts
    lengths = [len(t) for t in texts]

    def load(idx: np.ndarray) -> np.ndarray:
        return array[np.asarray(idx, dtype="int64")]

    info = {
        "layout": layout,
        "texts": len(texts),
        "encoding": "utf-8",
        "characters": common.summary(lengths),
    }
    return Samples(
        kind="text",
        table=table,
        load=load,
        where=where_row,
        files=sorted(files),
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
    csv_file = common.read_csv(
        source, strings=[cfg.id, cfg.group, common.split_column(cfg)], verbatim=[cfg.text]
    )
    has_id = cfg.id in csv_file.frame.columns or "id" in cfg.model_fields_set
    common.check_roles(config, with_id=has_id, text=True)
    common.check_columns(config, csv_file, common.roles(cfg, with_id=has_id, text=True))
    if has_id:
        ids = common.label_ids(csv_file, cfg.id)
    else:
        ids = [str(i + 1) for i in range(len(csv_file.frame))]
    table = common.build_table(config, ids, csv_file.frame, csv_file.at)
    texts = [str(t) for t in csv_file.frame[cfg.text]]
    return table, texts, csv_file.at


def _from_folder(config, root: Path, labels_file: Path | None):
    cfg = config.data
    targets = common.target_columns(cfg)
    if labels_file is None:
        common.need_labels_file(config, "a folder per class")
        common.check_roles(config, with_id=False)
        if targets:
            paths, classes, _ = common.class_folders(root, SUFFIXES)
            ids = [f"{c}/{p.name}" for c, p in zip(classes, paths, strict=True)]
            columns = pd.DataFrame({targets[0]: pd.Series(classes, dtype=object).astype(str)})
        else:
            paths, _ = common.scan_files(root, SUFFIXES, recursive=True)
            ids = [common.relative_id(p, root) for p in paths]
            columns = None
        if not paths:
            raise DataError(
                f"no .txt files found in {root}"
                + (" (one sub-folder per class, .txt files inside)" if targets else "")
                + f"; check data.path ({config.where('data.path')})"
            )
        layout = "folders"
        files = list(paths)

        def where_row(i: int) -> str:
            return str(paths[i])
    else:
        labels = common.read_labels(config, labels_file)
        ids = [common.normalise_id(i) for i in common.label_ids(labels, cfg.id)]
        found_paths, _ = common.scan_files(root, SUFFIXES, recursive=True, skip=labels_file)
        found = {common.relative_id(p, root): p for p in found_paths}
        paths = common.match_files(found, labels, ids, root, "text")
        columns = labels.frame
        layout = "labels"
        files = [*paths, labels_file]

        def where_row(i: int) -> str:
            return f"{paths[i]} ({labels.at(i)})"

    table = common.build_table(config, ids, columns, where_row)
    texts, problems = [], []
    for i, path in enumerate(paths):
        reason = inputfiles.problem(path, inputfiles.TEXT)
        if reason is not None:
            problems.append(f"{where_row(i)}: {reason}")
            texts.append("")
            continue
        try:
            texts.append(path.read_bytes().decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            bad = path.read_bytes()[exc.start : exc.start + 4]
            problems.append(
                f"{where_row(i)}: not UTF-8 text (byte {exc.start}: {bad!r}); save it as UTF-8"
            )
            texts.append("")
        except OSError as exc:
            problems.append(f"{where_row(i)}: cannot be read: {exc.strerror or exc}")
            texts.append("")
    if problems:
        raise DataError(
            f"{len(problems)} text file(s) cannot be read; fix or remove them:",
            details=common.listed(problems),
        )
    return layout, table, texts, where_row, files
