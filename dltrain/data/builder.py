"""The one dataset builder, for every data kind: encode → split → fit → shards → audit → manifest.

The kind reads the samples (`DataKind.read`); then, the same for every kind: the targets
are encoded (`targets.encode`), the samples split (`splits.split_rows`), the statistics
fitted on the training split only (`DataKind.fit`), each split written as shards
`<split>-NNNNN.npz` (x, y, rows, ids, groups) in a seeded random order, each shard read
through the kind one at a time (so neither preprocessing nor training holds the whole
dataset), the split audited for leakage, and the manifest returned. What differs per kind
(what is stored as `x`, the per-sample hashes, the manifest's source and schema) is asked
of the kind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dltrain.data import splits as splitting
from dltrain.data import targets
from dltrain.data.audit import leakage_audit
from dltrain.data.cache import CACHE_FORMAT


def build(config, kind, samples, sha: str, folder: Path, fold=None) -> dict:
    """Splits, fits on train only and writes the shards and the fitted statistics to `folder`.

    Args:
        config: the experiment.
        kind: its `DataKind`.
        samples: what `kind.read(config)` gave.
        sha: the source data's SHA-256 (`kind.source_sha`).
        folder: where the shards and preprocessing.json go.
        fold: (index, folds) of a cross-validation fold, or None. Defaults to None.

    Returns:
        The manifest (written by the caller, last).

    Raises:
        DataError: an impossible split, a class missing from a split, identical samples
            in two splits (unless allowed).
    """
    cfg = config.data
    target = targets.encode(
        samples.table, cfg.target, cfg.task, cfg.positive_class, config, samples.where
    )
    groups = kind.group_values(config, samples)
    parts, target, rare = _split(config, samples, target, _split_groups(config, kind, groups), fold)
    transform = kind.fit(config, samples, parts["train"], target)
    shards = _Shards(
        kind, samples, transform, target, kind.targets(transform, samples, target), groups, folder
    )
    size = kind.shard_size(config, samples)
    split_info = {
        name: shards.write(name, parts[name], [config.seed, number], size)
        for number, name in enumerate(splitting.SPLITS)
    }
    audit = _audit(config, kind, samples, target, groups, parts, shards.hashes, split_info)
    ext = _external(config, kind, transform, target, folder, shards.hashes, groups)
    transform.save(folder / "preprocessing.json")
    source, schema, tail = kind.describe(config, samples, transform, sha)
    split = {
        "method": cfg.split.method,
        "seed": config.seed,
        **split_info,
        **_carved_note(config, samples, target, groups),
    }
    return _manifest(config, kind, source, target, schema, split, fold, audit, ext, tail, rare)


def _manifest(config, kind, source, target, schema, split, fold, audit, ext, tail, rare) -> dict:
    return {
        "format": CACHE_FORMAT,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "kind": kind.name,
        "source": source,
        "task": target.task,
        "classes": target.classes,
        "positive_class": target.positive_class,
        **schema,
        "split": split,
        **({"fold": {"index": fold[0], "folds": fold[1]}} if fold else {}),
        **({"rare_classes": rare} if rare else {}),
        "audit": audit,
        "statistics": "preprocessing.json",
        "fitted_on": "train",
        **({"external": ext} if ext else {}),
        **tail,
    }


def _external(config, kind, transform, target, folder, hashes, groups) -> dict | None:
    """The external test set's shards and manifest entry (`data.external`), or None."""
    if getattr(config.data, "external", None) is None:
        return None
    from dltrain.data import external

    return external.build(config, kind, transform, target, folder, _Shards, hashes, groups)


def _carved_note(config, samples, target, groups) -> dict:
    """The manifest's note when validation was carved out of a column's train rows."""
    split = config.data.split
    column = samples.table[split.column] if split.method == "column" else None
    if not splitting.carved(split, column):
        return {}
    how = ["stratified by class"] if target.labels is not None else []
    if groups is not None:
        how.append(f"grouped by {config.data.group}")
    return {
        "val_from": (
            f"no row of column {split.column!r} is {split.val!r}: validation is "
            f"{split.val_fraction:.0%} of the train rows"
            + (f" ({', '.join(how)})" if how else "")
            + "; the test rows are as given"
        )
    }


def _audit(config, kind, samples, target, groups, parts, hashes, split_info) -> dict:
    """The leakage audit of the split (`audit.leakage_audit`), for the manifest."""
    return leakage_audit(
        hashes,
        parts,
        where_row=samples.where,
        hash_description=kind.hash_description,
        group_column=config.data.group,
        labels=target.labels,
        classes=target.classes,
        groups=groups,
        test_sha256=split_info["test"]["sha256"],
        allow_duplicates=config.data.allow_duplicates,
    )


def _split_groups(config, kind, groups):
    """The groups the split sees. Pseudonyms from a header field (DICOM PatientID, EDF
    patient…) depend on the user's pseudonym key; split on them and two users with the same
    data, config and seed would get different test sets. Their order of first appearance
    (in the sorted file listing) does not depend on the key, so the split uses that."""
    if groups is None or not kind.header_group(config) or not config.data.pseudonymise:
        return groups
    import pandas as pd

    return pd.factorize(np.asarray(groups))[0]


def _split(config, samples, target: targets.Targets, groups, fold):
    """(the rows of train, val and test, the target, the `rare_classes` record or None);
    every class must be in every split (`data.rare_classes` decides what to do if not)."""
    cfg = config.data
    split_column = cfg.split.column if cfg.split.method == "column" else None
    rows = {
        "groups": groups,
        "column": samples.table[split_column] if split_column else None,
        "seed": config.seed,
        "where_row": samples.where,
    }
    if target.labels is None:
        parts = splitting.split_rows(cfg.split, n_rows=len(samples), labels=None, fold=fold, **rows)
        return parts, target, None
    done = splitting.split_classes(
        cfg.split, target, policy=cfg.rare_classes, other=cfg.other_class, fold=fold, **rows
    )
    return done.parts, done.target, done.rare


@dataclass
class _Shards:
    """Writes the shards of each split, and collects the per-sample hashes of the audit."""

    kind: object
    samples: object
    transform: object
    target: targets.Targets
    y: np.ndarray | None
    groups: np.ndarray | None
    folder: Path
    hashes: np.ndarray = field(init=False)
    ids: np.ndarray = field(init=False)

    def __post_init__(self):
        self.hashes = np.zeros(len(self.samples), dtype="uint64")
        self.ids = self.kind.sample_ids(self.samples)

    def write(self, name: str, rows: np.ndarray, seed: list[int], chunk: int) -> dict:
        """Writes split `name` as shards of `chunk` samples in a seeded random order (each
        shard's samples sorted); returns its manifest entry."""
        order = rows[np.random.default_rng(seed).permutation(len(rows))]
        digest = hashlib.sha256()
        for k, start in enumerate(range(0, len(order), chunk)):
            shard = self._shard(np.sort(order[start : start + chunk]))
            np.savez(self.folder / f"{name}-{k:05d}.npz", **shard)
            for array in (shard["rows"], shard["x"], shard["y"]):
                digest.update(np.ascontiguousarray(array).tobytes())
        info = {
            "rows": int(len(rows)),
            "sha256": digest.hexdigest(),
            "shard_sizes": [len(order[i : i + chunk]) for i in range(0, len(order), chunk)],
        }
        target = self.target
        if target.labels is not None:
            counts = np.bincount(target.labels[rows], minlength=len(target.classes))
            info["class_counts"] = {c: int(n) for c, n in zip(target.classes, counts, strict=True)}
        if self.groups is not None:
            info["groups"] = int(len(np.unique(self.groups[rows])))
        return info

    def _shard(self, idx: np.ndarray) -> dict:
        raw = self.samples.load(idx)
        self.hashes[idx] = self.kind.hashes(self.samples, raw)
        shard = {
            "x": self.kind.encode(self.transform, self.samples, raw),
            "y": self.y[idx] if self.y is not None else np.zeros(len(idx), dtype="float32"),
            "rows": idx.astype("int64"),
            "ids": self.ids[idx].astype(str),
        }
        if self.groups is not None:
            shard["groups"] = self.groups[idx].astype(str)
        return shard
