"""`mlp`: a fully connected network for tabular data, or signals flattened.

For signals this is the MLP baseline of Wang, Yan & Oates 2017 ("Time series
classification from scratch with deep neural networks: a strong baseline"): each
series, all its leads, flattened to one vector. Their settings are three hidden layers
of 500 units with dropout (`hidden_units: [500, 500, 500]`, `dropout: 0.2`).
"""

from __future__ import annotations

from dltrain.config.models import MLPConfig
from dltrain.models.common import BN_MOMENTUM, head
from dltrain.models.specs import InputSpec, OutputSpec


def build(config: MLPConfig, inputs: InputSpec, outputs: OutputSpec):
    """[Flatten a series] → Dense → [BatchNorm] → activation → [Dropout], per hidden layer,
    then the task head."""
    import keras

    regularizer = keras.regularizers.L2(config.l2) if config.l2 else None
    x = inp = keras.Input(shape=inputs.shape, name="features")
    if len(inputs.shape) > 1:  # a series (length, leads): one vector, time steps x leads
        x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(config.hidden_units):
        x = keras.layers.Dense(
            units, use_bias=not config.batch_norm, kernel_regularizer=regularizer, name=f"dense_{i}"
        )(x)
        if config.batch_norm:
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"batch_norm_{i}")(x)
        x = keras.layers.Activation(config.activation, name=f"{config.activation}_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    out = head(x, outputs)
    return keras.Model(inp, out, name="mlp")
