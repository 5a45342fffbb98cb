"""What the builders share: the model input, the token embedding and the output head."""

from __future__ import annotations

from dltrain import tasks
from dltrain.errors import ConfigError
from dltrain.models.specs import InputSpec, OutputSpec

SAMPLE_SHAPES = {
    1: "signals of shape (length, channels)",
    2: "images of shape (height, width, channels)",
    3: "volumes of shape (depth, height, width, channels)",
}


def head(x, outputs: OutputSpec):
    """The output layer of every supervised architecture: units, activation, prior-aware bias."""
    import keras

    if tasks.get(outputs.task).reconstructs:
        raise ConfigError(
            "only the autoencoder reconstructs its input; set model.architecture: "
            "autoencoder, or choose a supervised task. Received: task='reconstruction'"
        )
    bias = keras.initializers.Constant(list(outputs.bias)) if outputs.bias is not None else "zeros"
    return keras.layers.Dense(
        outputs.units,
        activation=outputs.activation,
        bias_initializer=bias,
        dtype="float32",  # probabilities in float32 also under mixed precision
        name="output",
    )(x)


def spatial_input(inputs: InputSpec, rank: int, architecture: str):
    """The model's input and the same tensor with `rank` spatial axes and a channel axis.

    A sample without a channel axis (a grayscale image `(height, width)`, a single-lead
    signal `(length,)`) gets one of size 1.

    Returns:
        `(input, x)`: the `keras.Input` and the tensor to build on.
    """
    import keras

    shape = tuple(inputs.shape)
    inp = keras.Input(shape=shape, dtype=inputs.dtype, name="features")
    if len(shape) == rank + 1:
        return inp, inp
    if len(shape) == rank:
        return inp, keras.layers.Reshape((*shape, 1), name="add_channel")(inp)
    raise ConfigError(
        f"architecture {architecture!r} needs {SAMPLE_SHAPES[rank]}, but the samples have "
        f"{len(shape)} axes; choose an architecture for {inputs.kind} data. "
        f"Received: shape={shape}"
    )


def sequence_input(inputs: InputSpec, architecture: str, embedding_dim: int, *, mask: bool):
    """The model's input and a `(batch, length, features)` sequence to build on.

    Text (token ids, 0 = padding) goes through a learned embedding; with `mask`, the
    padding is masked for the layers that follow (recurrent layers honour it).
    Signals are used as they are, with a channel axis added when missing.

    Returns:
        `(input, x)`: the `keras.Input` and the sequence.
    """
    import keras

    if inputs.kind != "text":
        return spatial_input(inputs, 1, architecture)
    if len(inputs.shape) != 1:
        raise ConfigError(
            f"architecture {architecture!r} needs text as one sequence of token ids per "
            f"sample. Received: shape={tuple(inputs.shape)}"
        )
    if not inputs.vocab_size:
        raise ValueError(f"text input needs InputSpec.vocab_size. Received: {inputs}")
    inp = keras.Input(shape=tuple(inputs.shape), dtype=inputs.dtype, name="tokens")
    x = keras.layers.Embedding(
        inputs.vocab_size, embedding_dim, mask_zero=mask, name="token_embedding"
    )(inp)
    return inp, x


BN_MOMENTUM = 0.9
"""Batch-norm moving-average momentum. Keras's 0.99 averages over ~100 steps; the small
datasets dltrain is for train for a few hundred steps, so the averages lag the weights and
inference collapses (digits CNN, 15 epochs: 0.16 validation accuracy at 0.99, see
docs/decisions.md). 0.9 is PyTorch's default."""
