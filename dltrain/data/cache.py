"""The processed-data cache: `data/processed/<kind>-<fingerprint>/` with its manifest.

The fingerprint is the data and the preprocessing that shape the cached arrays: the
source bytes (SHA-256, through the stat record of `statcache`), the data section of the
config except where the data lies (`path`, `labels`) and the training-time augmentation
(`augment`), the seed and the cache format. Nothing else: two experiments on the same
data share one folder, whatever their names, models or training settings. A re-run with
unchanged inputs is a cache hit and any change produces a new folder. A folder is
written under a temporary name and renamed when complete: a crash never leaves a half
cache. Folders named by an older dltrain (`<experiment name>-<fingerprint>`) are still
found.
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
from dltrain.data import statcache
from dltrain.data.statcache import Digests, located
from dltrain.errors import RunError
from dltrain.runs import left_behind, read_json, temp_tag, write_json

CACHE_FORMAT = 3  # 2: manifest["audit"]; 3: shards <split>-NNNNN.npz, all kinds
NOT_IN_KEY = {"path", "labels", "augment"}  # where the data is; what training does to it
_BUILDING = re.compile(r"^\.[A-Za-z0-9][A-Za-z0-9_-]*-[0-9a-f]{16}\.")  # see `_building`


def cache_root() -> Path:
    """Where processed datasets live: `$DLTRAIN_CACHE`, or `data/processed/`."""
    return Path(os.environ.get("DLTRAIN_CACHE", "data/processed"))


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, always read (`statcache.sha256_stream`).

    Raises:
        DataError: the path is not a regular file (checked before opening it).
    """
    return statcache.sha256_stream(path)


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
    config: ExperimentConfig,
    source_sha: str,
    fold: tuple[int, int] | None = None,
    exclude: frozenset[str] | set[str] = NOT_IN_KEY,
) -> str:
    """The cache key: what shapes the cached arrays, never the experiment's name.

    `data.path` and `data.labels` say where the data is (its bytes and the files' places
    relative to each other are in `source_sha`); `data.augment` runs in the model, on
    training batches, and never changes what is cached.
    """
    key = {
        "format": CACHE_FORMAT,
        "source_sha256": source_sha,
        "data": config.data.model_dump(mode="json", exclude=set(exclude)),
        "seed": config.seed,
    }
    if fold is not None:  # a cross-validation fold of `dltrain tune`: its own cache folder
        key["fold"] = list(fold)
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def stat_record() -> Path:
    """Where the stat records of source files live (`statcache`): `<cache root>/.stat`."""
    return cache_root() / ".stat"


def preprocess(
    config: ExperimentConfig, fold: tuple[int, int] | None = None, rehash: bool = False
) -> Processed:
    """Validates, splits, fits and writes the dataset, or finds it in the cache.

    Args:
        config: the experiment.
        fold: (index, folds): the cross-validation fold `index` of train+val as val, with
            preprocessing fitted on that fold's train part (see `splits.split_rows`).
            Defaults to None, the configured split.
        rehash: read every source file again instead of trusting the stat record of the
            unchanged ones (`statcache`). Defaults to False.

    Returns:
        The processed dataset; `hit` says whether it came from the cache.

    Raises:
        DataError: bad rows or files, or an impossible split (nothing is written).
        ConfigError: a configured column is not in the data.
    """
    from dltrain.kinds import kind_of

    kind = kind_of(config.data.kind)
    digests = Digests(stat_record(), rehash)
    sha = kind.source_sha(config, digests)
    found = cached_folder(config, sha, fold)
    if found is not None:
        digests.save()
        return Processed(found, read_json(found / "manifest.json"), hit=True)
    from dltrain.data.builder import build  # pandas, scikit-learn: only on a miss

    folder = cache_root() / f"{config.data.kind}-{fingerprint(config, sha, fold)}"
    with _building(folder) as tmp:
        manifest = build(config, kind, kind.read(config), sha, tmp, fold)
        write_json(tmp / "manifest.json", manifest)  # last: its presence means complete
    digests.save()
    return Processed(folder, manifest, hit=False)


def cached_folder(config: ExperimentConfig, sha: str, fold=None) -> Path | None:
    """The complete cache folder of this data, or None.

    Also found: a folder of an older dltrain, named `<experiment name>-<fingerprint>`
    with the fingerprint of its day (which also covered `labels` and `augment`).
    """
    root = cache_root()
    key = fingerprint(config, sha, fold)
    folder = root / f"{config.data.kind}-{key}"
    if (folder / "manifest.json").exists():
        return folder
    for old_key in dict.fromkeys([key, fingerprint(config, sha, fold, {"path"})]):
        for old in sorted(root.glob(f"[!.]*-{old_key}")) if root.is_dir() else []:
            if (old / "manifest.json").exists():
                return old
    return None


def sha256_files(files: list[Path], digests: Digests | None = None) -> str:
    """One SHA-256 over the relative paths and bytes of many files (streamed).

    The path inside the data folder counts, not only the file name: an image moved to
    another class folder is relabelled, and must not be a cache hit.

    Args:
        files: the source files.
        digests: the stat record to ask for each file's digest (unchanged files are not
            read). Defaults to None: every file is read.
    """
    where = located(files)  # data and labels may be in different folders
    hashes = digests.of(files, where) if digests is not None else map(sha256_file, files)
    digest = hashlib.sha256()
    for name, file_hash in zip(where[1], hashes, strict=True):
        digest.update(name.encode() + b"\0" + file_hash.encode())
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
