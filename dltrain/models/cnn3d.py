"""`cnn3d`: a 3-D convolutional network for volumes (CT, MRI)."""

from __future__ import annotations

from dltrain.config.models import CNN3DConfig
from dltrain.models.cnn import conv_net
from dltrain.models.specs import InputSpec, OutputSpec


def build(config: CNN3DConfig, inputs: InputSpec, outputs: OutputSpec):
    """Conv3D blocks → global average pooling → the task head."""
    return conv_net(config, inputs, outputs, rank=3)
