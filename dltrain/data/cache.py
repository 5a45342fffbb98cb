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

from dltrain.config.schema import ExperimentConfig
from dltrain.data import inputfiles
from dltrain.errors import RunError
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
        from dltrain.kinds import load_transform

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
    from dltrain.data.builder import build
    from dltrain.kinds import kind_of

    kind = kind_of(config.data.kind)
    sha = kind.source_sha(config)
    folder = cache_root() / f"{config.name}-{fingerprint(config, sha, fold)}"
    manifest_path = folder / "manifest.json"
    if manifest_path.exists():
        return Processed(folder, read_json(manifest_path), hit=True)
    with _building(folder) as tmp:
        manifest = build(config, kind, kind.read(config), sha, tmp, fold)
        write_json(tmp / "manifest.json", manifest)  # last: its presence means complete
    return Processed(folder, manifest, hit=False)


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
