"""`resnet1d`: the residual network for signals.

Wang, Yan & Oates (2017), "Time series classification from scratch with deep neural
networks: a strong baseline", IJCNN; as benchmarked by Fawaz et al. (2019), "Deep
learning for time series classification: a review". Three residual blocks (64/128/128
filters) of three Conv1D → BatchNorm layers (kernels 8/5/3, ReLU between them); the
shortcut is a 1x1 Conv1D → BatchNorm where the channel count changes, else BatchNorm
alone (as in Fawaz et al.'s code); the sum goes through ReLU. Then global average
pooling and the head.
"""

from __future__ import annotations

from dltrain.config.models import ResNet1DConfig
from dltrain.models.common import BN_MOMENTUM, head, spatial_input
from dltrain.models.specs import InputSpec, OutputSpec


def build(config: ResNet1DConfig, inputs: InputSpec, outputs: OutputSpec):
    """Residual blocks → global average pooling → the task head."""
    import keras

    layers = keras.layers
    inp, x = spatial_input(inputs, 1, "resnet1d")
    last = len(config.kernel_sizes) - 1
    for b, filters in enumerate(config.filters):
        y = x
        for c, kernel in enumerate(config.kernel_sizes):
            y = layers.Conv1D(filters, kernel, padding="same", name=f"block{b}_conv{c}")(y)
            y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{b}_batch_norm{c}")(y)
            if c < last:
                y = layers.Activation("relu", name=f"block{b}_relu{c}")(y)
        shortcut = x
        if x.shape[-1] != filters:
            shortcut = layers.Conv1D(filters, 1, padding="same", name=f"block{b}_shortcut")(x)
        shortcut = layers.BatchNormalization(
            momentum=BN_MOMENTUM, name=f"block{b}_shortcut_batch_norm"
        )(shortcut)
        x = layers.Add(name=f"block{b}_add")([shortcut, y])
        x = layers.Activation("relu", name=f"block{b}_out")(x)
    x = layers.GlobalAveragePooling1D(name="global_pool")(x)
    return keras.Model(inp, head(x, outputs), name="resnet1d")
