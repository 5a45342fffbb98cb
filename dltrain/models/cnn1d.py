"""`cnn1d`: a plain 1-D convolutional network for signals."""

from __future__ import annotations

from dltrain.config.models import CNN1DConfig
from dltrain.models.cnn import conv_net
from dltrain.models.specs import InputSpec, OutputSpec


def build(config: CNN1DConfig, inputs: InputSpec, outputs: OutputSpec):
    """Conv1D blocks → global average pooling over time → the task head."""
    return conv_net(config, inputs, outputs, rank=1)
