"""What the file kinds (images, signals, text, volumes) share: their fitted statistics.

Fitted on the training split only: the per-channel mean and variance (images, signals,
volumes; applied by a Normalization layer inside the model, so the model carries its
preprocessing), the text vocabulary (`dltrain.kinds.text`), and the regression target's
mean and std. Stored as preprocessing.json (`ArrayTransform`, JSON, no pickle).

`ArrayKind` is the base class of those kinds; its methods import NumPy and Keras inside,
so the kinds' modules stay cheap to import.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dltrain import tasks
from dltrain.kinds.base import DataKind, Samples

FORMAT = 1
SAMPLE_HASH = (
    "64-bit BLAKE2b of each sample's raw input array as read (resized image, fixed-length "
    "series, text as UTF-8, volume)"
)


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

    def target_values(self, y_scaled):
        """Regression outputs back in the target's own units."""
        return y_scaled * self.target_std + self.target_mean

    def save(self, path: Path) -> None:
        from dltrain.runs import atomic_write_text

        atomic_write_text(path, json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> ArrayTransform:
        return cls(**data)


def channel_stats(load, rows, chunk: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and variance over `rows`, streamed in chunks (float64 sums)."""
    import numpy as np

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


def sample_hash(sample) -> int:
    """64-bit BLAKE2b of one raw sample (an array's bytes, a text's UTF-8)."""
    import numpy as np

    if isinstance(sample, str):
        data = sample.encode("utf-8")
    else:
        data = np.ascontiguousarray(sample).tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class ArrayKind(DataKind):
    """A kind whose samples are read from files into arrays (images, signals, volumes) or
    texts: `read` is the kind's reader module, the statistics an `ArrayTransform`."""

    hash_description = SAMPLE_HASH
    reader: str = ""  # the module with read(config) and read_new(path, config, transform)

    def _reader(self):
        import importlib

        return importlib.import_module(self.reader)

    def read(self, config) -> Samples:
        return self._reader().read(config)

    def _read_new(self, path: Path, config, transform) -> Samples:
        return self._reader().read_new(path, config, transform)

    def fit(self, config, samples: Samples, train, target) -> ArrayTransform:
        import numpy as np

        transform = ArrayTransform(
            kind=samples.kind,
            task=target.task,
            shape=list(samples.shape),
            classes=list(target.classes),
            info=dict(samples.info),
        )
        self.fit_inputs(transform, config, samples, train)
        if tasks.get(target.task).standardised:
            transform.target_mean = float(np.mean(target.y[train]))
            transform.target_std = float(np.std(target.y[train])) or 1.0
        return transform

    def fit_inputs(self, transform: ArrayTransform, config, samples: Samples, train) -> None:
        """Fits the input statistics: the per-channel mean and variance of the training split."""
        transform.channel_mean, transform.channel_var = channel_stats(
            samples.load, train, config.data.shard_size
        )

    def transform_from(self, data: dict) -> ArrayTransform:
        return ArrayTransform.from_dict(data)

    def targets(self, transform: ArrayTransform, samples: Samples, target):
        if target.y is None or not tasks.get(target.task).standardised:
            return target.y
        return ((target.y - transform.target_mean) / transform.target_std).astype("float32")

    def encode(self, transform: ArrayTransform, samples: Samples, raw):
        return raw

    def hashes(self, samples: Samples, raw):
        import numpy as np

        return np.asarray([sample_hash(sample) for sample in raw], dtype="uint64")

    def describe(self, config, samples: Samples, transform: ArrayTransform, sha: str):
        from dltrain.kinds.labels import split_column
        from dltrain.kinds.paths import source_record

        cfg = config.data
        source = {
            **source_record(config),
            "sha256": sha,
            "files": len(samples.files),
            "rows": int(len(samples.table)),
        }
        schema = {
            "columns": {
                "target": cfg.target,
                "group": cfg.group,
                "id": "id",
                "split": split_column(cfg),
            },
            "input_shape": transform.shape,
            "features": [],
        }
        return source, schema, {"info": samples.info}

    def input_spec(self, transform: ArrayTransform):
        from dltrain.models.specs import InputSpec

        return InputSpec(tuple(transform.shape), self.name)

    def layers(self, transform: ArrayTransform, data, seed: int) -> list:
        """Augmentation (`augmentation`), then a Normalization with the fitted per-channel
        mean and variance, then what augments normalised values (noise)."""
        import keras

        before, after = self.augmentation(data.augment, seed)
        normalization = keras.layers.Normalization(
            axis=-1,
            mean=transform.channel_mean,
            variance=transform.channel_var,
            name="normalization",
        )
        return [*before, normalization, *after]

    def augmentation(self, augment: list, seed: int) -> tuple[list, list]:
        """(before normalisation, after normalisation) augmentation layers, seeded with
        `seed + 1000 + i` for the i-th item of `data.augment`."""
        return [], []
