"""`cnn`: a 2-D convolutional network for images.

`conv_blocks` is shared with `cnn1d` and `cnn3d`, which differ only in the number
of spatial axes.
"""

from __future__ import annotations

from dltrain.config.models import CNNConfig
from dltrain.models.common import BN_MOMENTUM, head, spatial_input
from dltrain.models.specs import InputSpec, OutputSpec


def build(config: CNNConfig, inputs: InputSpec, outputs: OutputSpec):
    """Conv blocks → global average pooling → the task head."""
    return conv_net(config, inputs, outputs, rank=2)


def conv_net(config, inputs: InputSpec, outputs: OutputSpec, *, rank: int):
    """The plain conv network over `rank` spatial axes (1: signals, 2: images, 3: volumes)."""
    import keras

    inp, x = spatial_input(inputs, rank, config.architecture)
    x = conv_blocks(x, config, rank)
    x = getattr(keras.layers, f"GlobalAveragePooling{rank}D")(name="global_pool")(x)
    return keras.Model(inp, head(x, outputs), name=config.architecture)


def conv_blocks(x, config, rank: int):
    """Per filter count: Conv → [BatchNorm] → activation → [pool by 2] → [Dropout].

    Convolutions and pooling use "same" padding, so a small input is never pooled
    down to nothing (a side of 1 stays 1).
    """
    import keras

    conv = getattr(keras.layers, f"Conv{rank}D")
    pool = {
        "max": getattr(keras.layers, f"MaxPooling{rank}D"),
        "average": getattr(keras.layers, f"AveragePooling{rank}D"),
    }.get(config.pooling)
    for i, filters in enumerate(config.filters):
        x = conv(
            filters,
            config.kernel_size,
            padding="same",
            use_bias=not config.batch_norm,
            name=f"conv_{i}",
        )(x)
        if config.batch_norm:
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"batch_norm_{i}")(x)
        x = keras.layers.Activation(config.activation, name=f"{config.activation}_{i}")(x)
        if pool is not None:
            x = pool(pool_size=2, padding="same", name=f"pool_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    return x
