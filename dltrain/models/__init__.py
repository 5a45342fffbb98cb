"""The architecture registry. Every architecture is registered here, explicitly."""

from __future__ import annotations

from dltrain.config.models import MLPConfig
from dltrain.models import mlp
from dltrain.models.registry import Registry
from dltrain.models.specs import InputSpec, OutputSpec

ARCHITECTURES: Registry = Registry("architecture")
ARCHITECTURES.register("mlp", MLPConfig, mlp.build)


def build_model(config, inputs: InputSpec, outputs: OutputSpec):
    """Builds the `keras.Model` for a model config via the registry."""
    entry = ARCHITECTURES.get(config.architecture)
    return entry.builder(config, inputs, outputs)


__all__ = ["ARCHITECTURES", "InputSpec", "OutputSpec", "build_model"]
