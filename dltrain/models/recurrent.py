"""The stacked recurrent network that `lstm` and `gru` share."""

from __future__ import annotations

from dltrain.models.common import head, sequence_input
from dltrain.models.specs import InputSpec, OutputSpec


def recurrent_net(config, inputs: InputSpec, outputs: OutputSpec, cell: str):
    """[Embedding] → recurrent layers (`cell`: "LSTM" or "GRU") → [Dropout] each → head.

    All layers but the last return the whole sequence; the last returns its final
    state. For text the embedding masks padding (id 0), so the recurrent layers skip
    it: a text's prediction does not depend on how much padding follows it.
    """
    import keras

    name = config.architecture
    inp, x = sequence_input(inputs, name, config.embedding_dim, mask=True)
    rnn = getattr(keras.layers, cell)
    last = len(config.units) - 1
    for i, units in enumerate(config.units):
        layer = rnn(units, return_sequences=i < last, name=f"{name}_{i}")
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    return keras.Model(inp, head(x, outputs), name=name)
