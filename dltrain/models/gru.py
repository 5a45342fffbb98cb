"""`gru`: stacked GRU layers (Cho et al. 2014) for signals and text."""

from __future__ import annotations

from dltrain.config.models import GRUConfig
from dltrain.models.recurrent import recurrent_net
from dltrain.models.specs import InputSpec, OutputSpec


def build(config: GRUConfig, inputs: InputSpec, outputs: OutputSpec):
    """[Token embedding] → GRU layers, optionally bidirectional → the task head."""
    return recurrent_net(config, inputs, outputs, "GRU")
