"""`lstm`: stacked LSTM layers (Hochreiter & Schmidhuber 1997) for signals and text."""

from __future__ import annotations

from dltrain.config.models import LSTMConfig
from dltrain.models.recurrent import recurrent_net
from dltrain.models.specs import InputSpec, OutputSpec


def build(config: LSTMConfig, inputs: InputSpec, outputs: OutputSpec):
    """[Token embedding] → LSTM layers, optionally bidirectional → the task head."""
    return recurrent_net(config, inputs, outputs, "LSTM")
