"""The processed cache of images, signals, text and volumes: shards and train-only statistics.

Samples are read through `Samples.load` a shard at a time and written as
`<split>-NNNNN.npz` (x, y, rows, ids, groups), so neither preprocessing nor
training ever holds the whole dataset. Each split's samples are assigned to
shards in a seeded random order (a shard is a random subset, not one class), and
training visits shards in a per-epoch order and shuffles inside each.

What is fitted on the training split only: the per-channel mean and variance
(images, signals, volumes; applied by a Normalization layer inside the model, so
the model carries its preprocessing), the text vocabulary (keras
TextVectorization, stored as a list), and the regression target's mean and std.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dltrain.errors import RunError

FORMAT = 1
TEXT_CHUNK = 4096


@dataclass
class ArrayTransform:
    """Fitted statistics of a non-tabular dataset (JSON, no pickle)."""

    kind: str
    task: str
    shape: list[int]
    classes: list[str] = field(default_factory=list)
    channel_mean: list[float] = field(default_factory=list)
    channel_var: list[float] = field(default_factory=list)
    target_mean: float = 0.0
    target_std: float = 1.0
    vocabulary: list[str] = field(default_factory=list)
    max_length: int = 0
    ngrams: int = 1
    info: dict = field(default_factory=dict)
    format: int = FORMAT
    id_column: str | None = None

    @property
    def input_dtype(self) -> str:
        return "int32" if self.kind == "text" else "float32"

    def inputs(self, raw: np.ndarray) -> np.ndarray:
        """Raw samples (as `Samples.load` gives them) → the model's input array."""
        if self.kind == "text":
            return vectorize(self, raw)
        return np.asarray(raw, dtype="float32")

    def target_values(self, y_scaled: np.ndarray) -> np.ndarray:
        return y_scaled * self.target_std + self.target_mean

    def save(self, path: Path) -> None:
        from dltrain.runs import atomic_write_text

        atomic_write_text(path, json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> ArrayTransform:
        return cls(**data)


def channel_stats(load, rows: np.ndarray, chunk: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and variance over `rows`, streamed in chunks (float64 sums)."""
    total = None
    squares = None
    count = 0
    for start in range(0, len(rows), chunk):
        x = np.asarray(load(rows[start : start + chunk]), dtype="float64")
        flat = x.reshape(-1, x.shape[-1])
        total = flat.sum(axis=0) if total is None else total + flat.sum(axis=0)
        squares = (flat**2).sum(axis=0) if squares is None else squares + (flat**2).sum(axis=0)
        count += flat.shape[0]
    mean = total / count
    var = np.maximum(squares / count - mean**2, 0.0)
    var = np.where(var > 1e-12, var, 1.0)  # a constant channel is left unscaled
    return mean.tolist(), var.tolist()


def fit_vocabulary(texts: np.ndarray, max_tokens: int, max_length: int, ngrams: int) -> list[str]:
    """The vocabulary of the training texts (keras TextVectorization.adapt), as a list."""
    layer = _vectorizer([], max_tokens, max_length, ngrams, adapt=True)
    layer.adapt(np.asarray(texts, dtype=object).astype(str))
    return [str(t) for t in layer.get_vocabulary(include_special_tokens=False)]


def vectorize(transform: ArrayTransform, texts: np.ndarray) -> np.ndarray:
    """Token ids (int32, padded/cut to max_length) with the training vocabulary."""
    layer = _vectorizer(transform.vocabulary, 0, transform.max_length, transform.ngrams)
    out = []
    texts = np.asarray(texts, dtype=object).astype(str)
    for start in range(0, len(texts), TEXT_CHUNK):
        out.append(np.asarray(layer(texts[start : start + TEXT_CHUNK])).astype("int32"))
    return np.concatenate(out) if out else np.zeros((0, transform.max_length), dtype="int32")


_VECTORIZERS: dict = {}


def _vectorizer(vocabulary, max_tokens, max_length, ngrams, adapt=False):
    import keras

    key = (hashlib.sha256("\n".join(vocabulary).encode()).hexdigest(), max_length, ngrams)
    if not adapt and key in _VECTORIZERS:
        return _VECTORIZERS[key]
    kwargs = {
        "output_mode": "int",
        "output_sequence_length": max_length,
        "ngrams": ngrams if ngrams > 1 else None,
    }
    if adapt:
        layer = keras.layers.TextVectorization(max_tokens=max_tokens, **kwargs)
    else:
        layer = keras.layers.TextVectorization(vocabulary=list(vocabulary), **kwargs)
        _VECTORIZERS[key] = layer
    return layer


def bag_of_words(ids: np.ndarray, vocab_size: int):
    """Token-count matrix (sparse) of token-id rows, for the linear text baseline."""
    from scipy import sparse

    rows = np.repeat(np.arange(len(ids)), ids.shape[1])
    cols = ids.reshape(-1)
    keep = cols > 0  # 0 is padding
    return sparse.csr_matrix(
        (np.ones(keep.sum(), dtype="float32"), (rows[keep], cols[keep])),
        shape=(len(ids), vocab_size),
    )


def load_transform(path: Path):
    """The fitted preprocessing of a dataset or run, tabular or not."""
    from dltrain.data.transforms import TabularTransform

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"cannot read the fitted preprocessing {path}: {exc}") from None
    if "kind" in data and data["kind"] != "tabular":
        return ArrayTransform.from_dict(data)
    return TabularTransform.load(path)


def build_arrays(config, samples, sha: str, folder: Path, fold=None) -> dict:
    """Splits, fits on train only and writes the shards of a non-tabular dataset.

    Returns:
        The manifest (written by the caller, last).
    """
    import datetime as dt

    from dltrain.data import splits as splitting
    from dltrain.data import targets as T
    from dltrain.data.audit import leakage_audit

    cfg = config.data
    table = samples.table
    target = T.encode(table, cfg.target, cfg.task, cfg.positive_class, config, samples.where)
    groups = table[cfg.group].astype("string").to_numpy().astype(str) if cfg.group else None
    split_column = cfg.split.column if cfg.split.method == "column" else None
    parts = splitting.split_rows(
        cfg.split,
        n_rows=len(table),
        labels=target.labels,
        groups=groups,
        column=table[split_column] if split_column else None,
        seed=config.seed,
        where_row=samples.where,
        fold=fold,
    )
    if target.labels is not None:
        splitting.check_classes_present(parts, target.labels, target.classes)
    train = parts["train"]
    transform = ArrayTransform(
        kind=samples.kind,
        task=target.task,
        shape=list(samples.shape),
        classes=list(target.classes),
        info=dict(samples.info),
    )
    chunk = cfg.shard_size
    if samples.kind == "text":
        transform.vocabulary = fit_vocabulary(
            samples.load(train), cfg.max_tokens, cfg.max_length, cfg.ngrams
        )
        transform.max_length = cfg.max_length
        transform.ngrams = cfg.ngrams
        transform.shape = [cfg.max_length]
    else:
        transform.channel_mean, transform.channel_var = channel_stats(samples.load, train, chunk)
    y = target.y
    if target.task == "regression":
        transform.target_mean = float(np.mean(y[train]))
        transform.target_std = float(np.std(y[train])) or 1.0
        y = ((y - transform.target_mean) / transform.target_std).astype("float32")
    hashes = np.zeros(len(table), dtype="uint64")
    split_info = {}
    for number, name in enumerate(splitting.SPLITS):
        rows = parts[name]
        order = rows[np.random.default_rng([config.seed, number]).permutation(len(rows))]
        digest = hashlib.sha256()
        for k, start in enumerate(range(0, len(order), chunk)):
            idx = np.sort(order[start : start + chunk])
            raw = samples.load(idx)
            for i, sample in zip(idx, raw, strict=True):
                hashes[i] = _sample_hash(sample)
            x = transform.inputs(raw) if samples.kind == "text" else raw
            shard = {
                "x": x,
                "rows": idx.astype("int64"),
                "ids": table["id"].to_numpy().astype(str)[idx],
                "y": y[idx] if y is not None else np.zeros(len(idx), dtype="float32"),
            }
            if groups is not None:
                shard["groups"] = groups[idx]
            np.savez(folder / f"{name}-{k:05d}.npz", **shard)
            for array in (shard["rows"], shard["x"], shard["y"]):
                digest.update(np.ascontiguousarray(array).tobytes())
        info = {
            "rows": int(len(rows)),
            "sha256": digest.hexdigest(),
            "shard_sizes": [len(order[i : i + chunk]) for i in range(0, len(order), chunk)],
        }
        if target.labels is not None:
            counts = np.bincount(target.labels[rows], minlength=len(target.classes))
            info["class_counts"] = {c: int(n) for c, n in zip(target.classes, counts, strict=True)}
        if groups is not None:
            info["groups"] = int(len(np.unique(groups[rows])))
        split_info[name] = info
    audit = leakage_audit(
        hashes,
        parts,
        where_row=samples.where,
        hash_description="64-bit BLAKE2b of each sample's raw input array as read "
        "(resized image, fixed-length series, text as UTF-8, volume)",
        group_column=cfg.group,
        labels=target.labels,
        classes=target.classes,
        groups=groups,
        test_sha256=split_info["test"]["sha256"],
        allow_duplicates=cfg.allow_duplicates,
    )
    transform.save(folder / "preprocessing.json")
    return {
        "format": 3,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "name": config.name,
        "kind": samples.kind,
        "source": {
            **_source_paths(config),
            "sha256": sha,
            "files": len(samples.files),
            "rows": int(len(table)),
        },
        "task": target.task,
        "classes": target.classes,
        "positive_class": target.positive_class,
        "columns": {"target": cfg.target, "group": cfg.group, "id": "id", "split": split_column},
        "input_shape": transform.shape,
        "features": [],
        "split": {"method": cfg.split.method, "seed": config.seed, **split_info},
        **({"fold": {"index": fold[0], "folds": fold[1]}} if fold else {}),
        "audit": audit,
        "statistics": "preprocessing.json",
        "fitted_on": "train",
        "info": samples.info,
    }


def _source_paths(config) -> dict:
    """The resolved data path (and labels file): what evaluate re-reads."""
    from dltrain.data.readers import common

    out = {"path": str(common.data_path(config).resolve())}
    labels = common.labels_path(config)
    if labels is not None:
        out["labels"] = str(labels.resolve())
    return out


def _sample_hash(sample) -> int:
    if isinstance(sample, str):
        data = sample.encode("utf-8")
    else:
        data = np.ascontiguousarray(sample).tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
