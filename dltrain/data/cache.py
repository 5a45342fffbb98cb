"""The processed-data cache: `data/processed/<name>-<fingerprint>/` with its manifest.

The fingerprint covers the source bytes (SHA-256), the data section of the
config, the seed and the cache format, so a re-run with unchanged inputs is a
cache hit and any change produces a new folder. A folder is written under a
temporary name and renamed when complete: a crash never leaves a half cache.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dltrain.config.schema import ExperimentConfig
from dltrain.data import inputfiles, tabular, targets
from dltrain.data import splits as splitting
from dltrain.data.audit import HASH as AUDIT_HASH
from dltrain.data.audit import leakage_audit, row_hashes
from dltrain.data.transforms import TabularTransform
from dltrain.errors import DataError, RunError
from dltrain.runs import left_behind, read_json, temp_tag, write_json

CACHE_FORMAT = 3  # 2: manifest["audit"]; 3: shards <split>-NNNNN.npz, all kinds
CHUNK = 1 << 20
_BUILDING = re.compile(r"^\.[A-Za-z0-9][A-Za-z0-9_-]*-[0-9a-f]{16}\.")  # see `_building`


def cache_root() -> Path:
    """Where processed datasets live: `$DLTRAIN_CACHE`, or `data/processed/`."""
    return Path(os.environ.get("DLTRAIN_CACHE", "data/processed"))


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (flat memory, so no size limit).

    Raises:
        DataError: the path is not a regular file (a device such as /dev/zero would be
            read forever, a FIFO would block); checked before opening it.
    """
    inputfiles.check(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def split_hash(rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> str:
    """Content hash of one split: which rows, their inputs and their targets."""
    digest = hashlib.sha256()
    for array in (rows.astype("int64"), x, y):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Split:
    """One split of a processed dataset."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    ids: np.ndarray
    groups: np.ndarray | None


@dataclass(frozen=True)
class Processed:
    """A processed dataset in the cache: per split, shards `<split>-NNNNN.npz`."""

    path: Path
    manifest: dict
    hit: bool

    def shards(self, name: str) -> list[Path]:
        return sorted(self.path.glob(f"{name}-*.npz"))

    def size(self, name: str) -> int:
        return int(self.manifest["split"][name]["rows"])

    def split(self, name: str, limit: int | None = None) -> Split:
        """Inputs, targets, row numbers, ids and groups of a split (its first `limit` samples).

        Shards hold random subsets, so the first `limit` samples are a random sample.
        """
        parts, count = [], 0
        for shard in self.shards(name):
            parts.append(read_shard(shard))
            count += len(parts[-1].y)
            if limit is not None and count >= limit:
                break
        if not parts:
            raise RunError(
                f"the cached {name} split in {self.path} is missing; delete the folder and run "
                "preprocess again"
            )
        joined = Split(
            *(
                None
                if getattr(parts[0], f) is None
                else np.concatenate([getattr(p, f) for p in parts])
                for f in ("x", "y", "rows", "ids", "groups")
            )
        )
        if limit is not None and len(joined.y) > limit:
            joined = Split(
                *(
                    None if v is None else v[:limit]
                    for v in (joined.x, joined.y, joined.rows, joined.ids, joined.groups)
                )
            )
        return joined

    def sample(self, name: str) -> Split:
        """A random sample of a split small enough to hold in memory (`sample_size`)."""
        return self.split(name, sample_size(self.manifest))

    @property
    def transform(self):
        from dltrain.data.arrays import load_transform

        return load_transform(self.path / "preprocessing.json")


SAMPLE_MAX = 5000
SAMPLE_MIN = 500
SAMPLE_BYTES = 16 << 20


def sample_size(manifest: dict) -> int:
    """How many samples the sanity suite, output priors and baselines hold in memory.

    At most 5000, and at most 16 MiB of float32 inputs (but at least 500), so that the
    memory of training does not grow with the dataset: for 64x64 images that is ~1000.
    """
    shape = manifest.get("input_shape") or [len(manifest.get("features") or [1])]
    per_sample = 4 * int(np.prod(shape))
    return int(max(SAMPLE_MIN, min(SAMPLE_MAX, SAMPLE_BYTES // max(per_sample, 1))))


def read_shard(path: Path) -> Split:
    try:
        with np.load(path, allow_pickle=False) as f:
            groups = f["groups"] if "groups" in f.files else None
            return Split(f["x"], f["y"], f["rows"], f["ids"], groups)
    except (OSError, KeyError, ValueError) as exc:
        raise RunError(
            f"the cache shard {path} is unreadable ({exc}); delete its folder and run "
            "preprocess again"
        ) from None


def fingerprint(
    config: ExperimentConfig, source_sha: str, fold: tuple[int, int] | None = None
) -> str:
    key = {
        "format": CACHE_FORMAT,
        "source_sha256": source_sha,
        "data": config.data.model_dump(mode="json", exclude={"path"}),
        "seed": config.seed,
    }
    if fold is not None:  # a cross-validation fold of `dltrain tune`: its own cache folder
        key["fold"] = list(fold)
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def source_path(config: ExperimentConfig) -> Path:
    """The data file, resolved against the working directory, then the config's folder."""
    return tabular.resolve_data_path(
        config.data.path, tabular.config_file(config.where("data.path"))
    )


def preprocess(config: ExperimentConfig, fold: tuple[int, int] | None = None) -> Processed:
    """Validates, splits, fits and writes the dataset, or finds it in the cache.

    Args:
        config: the experiment.
        fold: (index, folds): the cross-validation fold `index` of train+val as val, with
            preprocessing fitted on that fold's train part (see `splits.split_rows`).
            Defaults to None, the configured split.

    Returns:
        The processed dataset; `hit` says whether it came from the cache.

    Raises:
        DataError: bad rows or files, or an impossible split (nothing is written).
        ConfigError: a configured column is not in the data.
    """
    if config.data.kind == "tabular":
        source = source_path(config)
        tabular.check_table_file(source, config.data, where=config.where("data.path"))
        sha = sha256_file(source)
    else:
        sha = sha256_files(source_files(config))
    folder = cache_root() / f"{config.name}-{fingerprint(config, sha, fold)}"
    manifest_path = folder / "manifest.json"
    if manifest_path.exists():
        return Processed(folder, read_json(manifest_path), hit=True)
    with _building(folder) as tmp:
        if config.data.kind == "tabular":
            manifest, arrays, transform = build(config, source, sha, fold)
            for name, parts in arrays.items():
                np.savez(tmp / f"{name}-00000.npz", **parts)
            transform.save(tmp / "preprocessing.json")
        else:
            from dltrain.data.arrays import build_arrays
            from dltrain.data.sources import read_samples

            manifest = build_arrays(config, read_samples(config), sha, tmp, fold)
        write_json(tmp / "manifest.json", manifest)  # last: its presence means complete
    return Processed(folder, manifest, hit=False)


def source_files(config: ExperimentConfig) -> list[Path]:
    """Every file under data.path (and the labels file): what the fingerprint covers.

    Raises:
        DataError: data.path or data.labels missing or not a regular file or folder, or an
            entry under data.path that is not a regular file (a FIFO, a socket, a device, a
            broken link): every one listed, before any file is read.
    """
    cfg = config.data
    where = tabular.config_file(config.where("data.path"))
    root = tabular.resolve_data_path(cfg.path, where)
    if not root.exists():
        raise DataError(
            f"data not found: {root}. Check data.path ({config.where('data.path')}); relative "
            "paths are taken from the working directory or the config's folder"
        )
    if root.is_dir():
        files = inputfiles.regular_files(root)
    else:
        inputfiles.check(
            root, fix=f"point data.path ({config.where('data.path')}) at a file or folder of files"
        )
        files = [root]
    if getattr(cfg, "labels", None):
        labels_at = config.where("data.labels")
        labels = tabular.resolve_data_path(cfg.labels, tabular.config_file(labels_at))
        if not labels.exists() and not labels.is_symlink():
            raise DataError(f"labels file not found: {labels}. Check data.labels ({labels_at})")
        inputfiles.check(labels, fix=f"point data.labels ({labels_at}) at a CSV file")
        files.append(labels)
    return files


def sha256_files(files: list[Path]) -> str:
    """One SHA-256 over the relative paths and bytes of many files (streamed).

    The path inside the data folder counts, not only the file name: an image moved to
    another class folder is relabelled, and must not be a cache hit.
    """
    digest = hashlib.sha256()
    absolute = [Path(os.path.abspath(p)) for p in files]  # data and labels may mix
    root = Path(os.path.commonpath([p.parent for p in absolute])) if files else Path()
    for path, full in zip(files, absolute, strict=True):
        name = full.relative_to(root).as_posix()
        digest.update(name.encode() + b"\0" + sha256_file(path).encode())
    return digest.hexdigest()


@contextlib.contextmanager
def _building(folder: Path):
    """A temporary folder renamed to `folder` when the block succeeds, removed otherwise.

    The temporary folder is `.<name>-<fingerprint>.<pid>@<host>.<random>`: a preprocess
    killed half-way (kill -9, a power cut) cannot remove it, so the next one that builds
    a cache folder removes every such folder whose process has ended on this machine.
    The creator's PID and host decide, not the folder's age: a preprocess of another
    process may be writing one right now, for as long as its data takes, and a folder
    made on another machine sharing the cache is left to that machine. A folder named
    without a PID (by an older dltrain) is removed once it is a day old.
    """
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _remove_left_behind(folder.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{temp_tag()}.", dir=folder.parent))
    except OSError as exc:
        raise RunError(f"cannot write the cache under {folder.parent}: {exc.strerror}") from None
    try:
        yield tmp
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "manifest.json").exists():  # not a concurrent identical write
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RunError(f"cannot write the cache folder {folder}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_left_behind(root: Path) -> None:
    """Removes the temporary folders of killed preprocesses from the cache (see `_building`)."""
    day_ago = dt.datetime.now().timestamp() - 86400
    for path in root.iterdir():
        if not (_BUILDING.match(path.name) and path.is_dir() and not path.is_symlink()):
            continue
        with contextlib.suppress(OSError):
            if left_behind(path.name, untagged=path.stat().st_mtime < day_ago):
                shutil.rmtree(path)


def load_labelled(config: ExperimentConfig, source: Path):
    """Reads a table and checks the columns and rows that every split needs."""
    cfg = config.data
    frame = tabular.read_table(source, cfg, where=config.where("data.path"))
    columns = tabular.assign_columns(frame, cfg, config.where)
    tabular.missing_rows(frame, cfg.target, source, "target")
    if columns.group:
        tabular.missing_rows(frame, columns.group, source, "group")
    tabular.numeric_values(frame, columns.numeric, source)  # lists every bad cell now
    return frame, columns


def build(config: ExperimentConfig, source: Path, sha: str, fold=None):
    """Reads and validates the table, splits it and fits preprocessing on train only."""
    cfg = config.data
    frame, columns = load_labelled(config, source)
    encoded = targets.encode(
        frame,
        cfg.target,
        cfg.task,
        cfg.positive_class,
        config,
        lambda row: tabular.row_where(source, row),
    )
    task, classes, labels = encoded.task, encoded.classes, encoded.labels
    groups = frame[columns.group].astype("string").to_numpy() if columns.group else None
    parts = splitting.split_rows(
        cfg.split,
        n_rows=len(frame),
        labels=labels,
        groups=groups,
        column=frame[columns.split] if columns.split else None,
        seed=config.seed,
        where_row=lambda i: tabular.row_where(source, i),
        fold=fold,
    )
    if labels is not None:
        splitting.check_classes_present(parts, labels, classes)
    train = frame.iloc[parts["train"]]
    transform = TabularTransform.fit(train, columns, cfg, task, classes, source)
    arrays = {}
    split_info = {}
    for name, rows in parts.items():
        x, _ = transform.features(frame.iloc[rows], source)
        y = transform.labels(frame.iloc[rows], source)
        arrays[name] = {
            "x": x,
            "y": y,
            "rows": rows.astype("int64"),
            "ids": _ids(frame, columns.id, rows),
        }
        if groups is not None:
            arrays[name]["groups"] = groups[rows].astype(str)
        info = {
            "rows": int(len(rows)),
            "sha256": split_hash(rows, x, y),
            "shard_sizes": [int(len(rows))],
        }
        if labels is not None:
            counts = np.bincount(labels[rows], minlength=len(classes))
            info["class_counts"] = {c: int(n) for c, n in zip(classes, counts, strict=True)}
        if groups is not None:
            info["groups"] = int(len(np.unique(groups[rows])))
        split_info[name] = info
    audit = leakage_audit(
        row_hashes(frame, columns, source),
        parts,
        where_row=lambda i: tabular.row_where(source, i),
        hash_description=AUDIT_HASH,
        group_column=columns.group,
        labels=labels,
        classes=classes,
        groups=groups,
        test_sha256=split_info["test"]["sha256"],
        allow_duplicates=cfg.allow_duplicates,
    )
    missing = {
        c: int(n)
        for c, n in frame[list(columns.numeric + columns.categorical)].isna().sum().items()
        if n
    }
    manifest = {
        "format": CACHE_FORMAT,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "name": config.name,
        "kind": "tabular",
        "source": {
            "path": str(source.resolve()),
            "sha256": sha,
            "bytes": source.stat().st_size,
            "rows": int(len(frame)),
        },
        "task": task,
        "classes": classes,
        "positive_class": classes[-1] if task == "binary" else None,
        "columns": {
            "numeric": list(columns.numeric),
            "categorical": list(columns.categorical),
            "target": columns.target,
            "group": columns.group,
            "id": columns.id,
            "split": columns.split,
        },
        "features": transform.feature_names,
        "missing_values": missing,
        "split": {"method": cfg.split.method, "seed": config.seed, **split_info},
        **({"fold": {"index": fold[0], "folds": fold[1]}} if fold else {}),
        "audit": audit,
        "statistics": "preprocessing.json",
        "fitted_on": "train",
    }
    return manifest, arrays, transform


def _ids(frame: pd.DataFrame, id_column: str | None, rows: np.ndarray) -> np.ndarray:
    """Sample ids for predictions: the id column, or 1-based row numbers."""
    if id_column is None:
        return (rows + 1).astype(str)
    return frame[id_column].iloc[rows].astype("string").fillna("").to_numpy().astype(str)
