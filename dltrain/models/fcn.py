"""`fcn`: the Fully Convolutional Network for signals.

Wang, Yan & Oates (2017), "Time series classification from scratch with deep neural
networks: a strong baseline", IJCNN; as benchmarked by Fawaz et al. (2019), "Deep
learning for time series classification: a review". Three Conv1D → BatchNorm → ReLU
blocks (128/256/128 filters, kernels 8/5/3, no pooling), global average pooling, head.
"""

from __future__ import annotations

from dltrain.config.models import FCNConfig
from dltrain.models.common import BN_MOMENTUM, head, spatial_input
from dltrain.models.specs import InputSpec, OutputSpec


def build(config: FCNConfig, inputs: InputSpec, outputs: OutputSpec):
    """Conv1D → BatchNorm → ReLU per block, global average pooling, the task head."""
    import keras

    inp, x = spatial_input(inputs, 1, "fcn")
    for i, (filters, kernel) in enumerate(zip(config.filters, config.kernel_sizes, strict=True)):
        x = keras.layers.Conv1D(filters, kernel, padding="same", name=f"conv_{i}")(x)
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"batch_norm_{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu_{i}")(x)
    x = keras.layers.GlobalAveragePooling1D(name="global_pool")(x)
    return keras.Model(inp, head(x, outputs), name="fcn")
