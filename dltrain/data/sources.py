"""Reading the non-tabular kinds: one reader per kind, all returning `Samples`.

A reader finds every sample, checks every one of them before anything is fitted or
written (a corrupt image, an unreadable array, a series of the wrong shape, an
empty text: all are listed, with the file and the reason, in one `DataError`),
and returns `Samples`: the labels and ids as a table, and a `load` function that
gives the raw inputs of any subset of samples, so the cache can be written one
shard at a time. `read_samples` picks the reader of `data.kind`: one module per kind
under `dltrain/data/readers/`, none of which imports TensorFlow or Keras.

Raw inputs per kind (`Samples.load(indices)` returns a NumPy array):
- images: uint8, (k, height, width, channels), resized to `data.size`;
- signals: float32, (k, length, channels), brought to the fixed length by `data.fit`;
- text: the texts, an object array of str, (k,) (vectorised later, on train's vocabulary);
- volumes: float32, (k, depth, height, width, channels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass
class Samples:
    """Every sample of a dataset, checked, with lazy access to its inputs.

    Attributes:
        kind: images, signals, text or volumes.
        table: one row per sample, in a fixed order: column "id" (str, unique), the
            target column(s) as read (none when the config has `target: null`), the
            group column and the split column when configured.
        load: indices (np.ndarray of int) → raw inputs of those samples (see above).
        where: index → where the sample comes from, for messages ("data/x/a/1.png",
            "labels.csv:12", "signals.npy[41]").
        files: every source file, for the cache fingerprint (sorted).
        shape: shape of one raw sample, e.g. (64, 64, 1).
        info: facts for the manifest (format, channels, original lengths, ...).
    """

    kind: str
    table: pd.DataFrame
    load: Callable[[np.ndarray], np.ndarray]
    where: Callable[[int], str]
    files: list[Path]
    shape: tuple[int, ...]
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.table)


READERS = {
    "images": "dltrain.data.readers.images",
    "signals": "dltrain.data.readers.signals",
    "text": "dltrain.data.readers.text",
    "volumes": "dltrain.data.readers.volumes",
}


def read_samples(config) -> Samples:
    """Finds and checks every sample of an images, signals, text or volumes dataset.

    Args:
        config: the experiment (`ExperimentConfig`); `config.data.kind` picks the reader.

    Returns:
        The samples: their table, inputs on demand and the source files.

    Raises:
        DataError: missing, unreadable or invalid files or labels, all listed (exit 3).
        ConfigError: a configured column is not in the labels, or the layout cannot hold
            what the config asks for (exit 2).

    Example:
        >>> samples = read_samples(load_config("configs/xray.yaml"))
        >>> samples.load(np.arange(8)).shape
        (8, 64, 64, 1)
    """
    import importlib

    kind = config.data.kind
    if kind not in READERS:
        raise ValueError(
            f"read_samples reads {', '.join(READERS)}; {kind!r} data is read by "
            f"dltrain.data.tabular. Received: kind={kind!r}"
        )
    return importlib.import_module(READERS[kind]).read(config)
