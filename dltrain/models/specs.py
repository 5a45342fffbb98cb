"""What a builder is told about its inputs and outputs."""

from __future__ import annotations

from dataclasses import dataclass

from dltrain import tasks

DATA_KINDS = ("tabular", "images", "signals", "text", "volumes")
"""The data kinds an architecture can declare (`Registry.register(..., kinds=...)`)."""


@dataclass(frozen=True)
class InputSpec:
    """Shape of one sample (without the batch axis), its data kind and dtype.

    Args:
        shape: one sample's shape: tabular `(features,)`, images `(height, width,
            channels)`, signals `(length, channels)`, text `(length,)` of token ids,
            volumes `(depth, height, width, channels)`. A missing channel axis is
            added by the builders (and removed again by the autoencoder's output).
        kind: one of `DATA_KINDS`. Defaults to "tabular".
        vocab_size: text only: the number of token ids, so ids are 0 (padding, masked
            out) to `vocab_size - 1`. Defaults to None.
        dtype: dtype of the input tensor ("int32" for token ids). Defaults to "float32".
    """

    shape: tuple[int, ...]
    kind: str = "tabular"
    vocab_size: int | None = None
    dtype: str = "float32"


@dataclass(frozen=True)
class OutputSpec:
    """The task and the head it needs.

    Args:
        task: binary, multiclass, regression, or reconstruction (the autoencoder:
            its output is the input itself, so `units` and `bias` are ignored).
        units: output units (1 for binary and regression, C for multiclass).
        bias: initial output bias (log-odds of the class priors), so the loss at
            initialisation is the entropy of the labels rather than a random value.
    """

    task: str
    units: int
    bias: tuple[float, ...] | None = None

    @property
    def activation(self) -> str:
        return tasks.get(self.task).activation
