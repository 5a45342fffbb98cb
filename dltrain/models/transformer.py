"""`transformer`: a Transformer encoder for text and signals.

The encoder of Vaswani et al. (2017), "Attention is all you need", with the layer
normalisation before each sub-layer ("pre-LN", Xiong et al. 2020), which trains
stably without a learning-rate warm-up. Text: a token embedding, padding (id 0)
masked out of attention and pooling. Signals: a Dense projection of the channels
to `d_model`. Both add a learned positional embedding (one vector per position up
to the input length, as in BERT), then `blocks` encoder blocks, then the mean over
positions or a learned [CLS] token (Devlin et al. 2019), then the head.
"""

from __future__ import annotations

from dltrain.config.models import TransformerConfig
from dltrain.models.common import head, sequence_input
from dltrain.models.specs import InputSpec, OutputSpec


def build(config: TransformerConfig, inputs: InputSpec, outputs: OutputSpec):
    """Embedding + positions → encoder blocks → pooling → the task head."""
    import keras
    from keras import ops

    layers = keras.layers
    d = config.d_model
    inp, x = sequence_input(inputs, "transformer", d, mask=False)
    keep = None  # (batch, length) bool: True at real tokens; None when nothing is padding
    if inputs.kind == "text":
        keep = ops.not_equal(inp, 0)
    else:
        x = layers.Dense(d, name="input_projection")(x)
    positions = ops.cumsum(ops.ones_like(x[:, :, 0], dtype="int32"), axis=1) - 1
    where = layers.Embedding(inputs.shape[0], d, name="position_embedding")(positions)
    x = layers.Add(name="add_position")([x, where])
    if config.pooling == "cls":
        cls = layers.Dense(d, use_bias=False, name="cls_token")(ops.ones_like(x[:, :1, 0]))
        cls = layers.Reshape((1, d), name="cls_reshape")(cls)
        x = layers.Concatenate(axis=1, name="prepend_cls")([cls, x])
        if keep is not None:
            keep = ops.concatenate([ops.ones_like(keep[:, :1]), keep], axis=1)
    if config.dropout:
        x = layers.Dropout(config.dropout, name="embedding_dropout")(x)
    attention_mask = None if keep is None else keep[:, None, :]  # every query, real keys
    for b in range(config.blocks):
        x = encoder_block(x, config, attention_mask, f"block{b}")
    x = layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    if config.pooling == "cls":
        x = x[:, 0]
    elif keep is None:
        x = layers.GlobalAveragePooling1D(name="global_pool")(x)
    else:  # mean over real tokens; an all-padding text gives zeros, not 0/0
        weight = ops.cast(ops.expand_dims(keep, -1), x.dtype)
        x = ops.sum(x * weight, axis=1) / ops.maximum(ops.sum(weight, axis=1), 1.0)
    if config.dropout:
        x = layers.Dropout(config.dropout, name="pooled_dropout")(x)
    return keras.Model(inp, head(x, outputs), name="transformer")


def encoder_block(x, config: TransformerConfig, attention_mask, name: str):
    """x + Attention(LayerNorm(x)), then x + FeedForward(LayerNorm(x))."""
    import keras

    layers = keras.layers
    h = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_attention_norm")(x)
    h = layers.MultiHeadAttention(
        config.heads,
        config.d_model // config.heads,
        dropout=config.dropout,
        name=f"{name}_attention",
    )(h, h, attention_mask=attention_mask)
    if config.dropout:
        h = layers.Dropout(config.dropout, name=f"{name}_attention_dropout")(h)
    x = layers.Add(name=f"{name}_attention_residual")([x, h])
    h = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ff_norm")(x)
    h = layers.Dense(config.ff_dim, activation="gelu", name=f"{name}_ff_hidden")(h)
    h = layers.Dense(config.d_model, name=f"{name}_ff_out")(h)
    if config.dropout:
        h = layers.Dropout(config.dropout, name=f"{name}_ff_dropout")(h)
    return layers.Add(name=f"{name}_ff_residual")([x, h])
