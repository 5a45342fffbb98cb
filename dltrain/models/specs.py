"""What a builder is told about its inputs and outputs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputSpec:
    """Shape of one sample (without the batch axis) and the data kind."""

    shape: tuple[int, ...]
    kind: str = "tabular"


@dataclass(frozen=True)
class OutputSpec:
    """The task and the head it needs.

    Args:
        task: binary, multiclass or regression.
        units: output units (1 for binary and regression, C for multiclass).
        bias: initial output bias (log-odds of the class priors), so the loss at
            initialisation is the entropy of the labels rather than a random value.
    """

    task: str
    units: int
    bias: tuple[float, ...] | None = None

    @property
    def activation(self) -> str:
        return {"binary": "sigmoid", "multiclass": "softmax"}.get(self.task, "linear")
