"""The data kinds: one registered `DataKind` per `data.kind` tag, built here, explicitly.

Each kind owns its config section (pointed to, in `dltrain.config.data`), reading for
training and for `predict` through the same per-format decoders, its fitted statistics,
the model's input spec, the layers before the network and the export sidecar's steps
(see `dltrain.kinds.base.DataKind`). docs/architecture.md ("Data kinds") says what a new
file format or a new kind touches.

Importing this package imports neither NumPy, pandas, Pillow nor Keras: each kind imports
what it needs inside its methods.
"""

from __future__ import annotations

import json
from pathlib import Path

from dltrain.errors import RunError
from dltrain.kinds.base import DataKind, Samples
from dltrain.kinds.images import IMAGES
from dltrain.kinds.signals import SIGNALS
from dltrain.kinds.tabular import TABULAR
from dltrain.kinds.text import TEXT
from dltrain.kinds.volumes import VOLUMES
from dltrain.models.registry import Registry

KINDS: Registry[DataKind] = Registry("data kind")
for _kind in (TABULAR, IMAGES, SIGNALS, TEXT, VOLUMES):
    KINDS.register(_kind.name, _kind.config_class, _kind)


def kind_of(name: str) -> DataKind:
    """The registered kind called `name` (a `LookupError` listing the kinds otherwise)."""
    return KINDS.get(name).builder


def read(config) -> Samples:
    """Every sample of the configured data, checked (`DataKind.read` of `data.kind`)."""
    return kind_of(config.data.kind).read(config)


def load_transform(path: Path):
    """The fitted preprocessing (preprocessing.json) of a dataset or run, of any kind.

    Raises:
        RunError: the file is missing, unreadable or not what dltrain wrote.
    """
    try:
        data = json.loads(Path(path).read_text())
        return kind_of(data.get("kind", "tabular")).transform_from(data)
    except (OSError, ValueError, TypeError, LookupError, AttributeError) as exc:
        raise RunError(f"cannot read the fitted preprocessing {path}: {exc}") from None


__all__ = ["KINDS", "DataKind", "Samples", "kind_of", "load_transform", "read"]
