"""The `model:` section: one config class per architecture, chosen by `architecture`.

The builders live in `dltrain.models`; a test checks that the registry there and
the tags here name the same architectures.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from dltrain.config.base import Section, tagged_union

Activation = Literal["relu", "gelu", "elu", "selu", "tanh", "swish", "leaky_relu"]


class MLPConfig(Section):
    """A fully connected network (multi-layer perceptron) for tabular data."""

    architecture: Literal["mlp"] = "mlp"
    hidden_units: list[PositiveInt] = Field(default=[64, 32], min_length=1)
    """Width of each hidden layer, first to last. Defaults to [64, 32]."""
    activation: Activation = "relu"
    """Activation of the hidden layers. Defaults to "relu"."""
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Dropout rate after each hidden layer. Defaults to 0.0."""
    batch_norm: bool = False
    """Batch normalisation before each activation. Defaults to False."""
    l2: Annotated[float, Field(ge=0.0)] = 0.0
    """L2 weight penalty of the hidden layers. Defaults to 0.0."""


ModelConfig = tagged_union("architecture", MLPConfig, default="mlp")
