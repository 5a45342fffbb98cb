"""`autoencoder`: an unsupervised model that learns to reconstruct its input.

The classic undercomplete autoencoder (Hinton & Salakhutdinov 2006, "Reducing the
dimensionality of data with neural networks"): an encoder squeezes a sample into
`latent` numbers, a mirrored decoder rebuilds the sample from them, and the
reconstruction error is the training loss (and an anomaly score). "dense" flattens
any input; "conv" uses stride-2 convolutions over the 1, 2 or 3 spatial axes of
signals, images or volumes and transposed convolutions back, cropped to the input's
exact size.

The model is `features → encoder → decoder`, where "encoder" and "decoder" are
nested `keras.Model`s, so a later run can take `model.get_layer("encoder")` as a
pretrained feature extractor.
"""

from __future__ import annotations

import math

from dltrain import tasks
from dltrain.config.models import AutoencoderConfig
from dltrain.errors import ConfigError
from dltrain.models.common import spatial_input
from dltrain.models.specs import InputSpec, OutputSpec

SPATIAL_AXES = {"signals": 1, "images": 2, "volumes": 3}


def build(config: AutoencoderConfig, inputs: InputSpec, outputs: OutputSpec):
    """The encoder and decoder, joined; the output has exactly the input's shape.

    `outputs.units` and `outputs.bias` are ignored: the output is the reconstruction,
    with a linear activation.
    """
    import keras

    if not tasks.get(outputs.task).reconstructs:
        raise ConfigError(
            f"the autoencoder only reconstructs its input (task 'reconstruction'); for a "
            f"{outputs.task} task choose a supervised architecture. Received: "
            f"task={outputs.task!r}"
        )
    if config.kind == "dense":
        encoder, decoder = dense_parts(config, inputs)
    else:
        encoder, decoder = conv_parts(config, inputs)
    inp = keras.Input(shape=tuple(inputs.shape), dtype=inputs.dtype, name="features")
    return keras.Model(inp, decoder(encoder(inp)), name="autoencoder")


def dense_parts(config: AutoencoderConfig, inputs: InputSpec):
    """Flatten → Dense layers → latent, and Dense layers back → the input's shape."""
    import keras

    layers = keras.layers
    shape = tuple(inputs.shape)
    inp = x = keras.Input(shape=shape, dtype=inputs.dtype, name="features")
    if len(shape) > 1:
        x = layers.Flatten(name="encoder_flatten")(x)
    for i, units in enumerate(config.hidden_units):
        x = layers.Dense(units, activation=config.activation, name=f"encoder_dense_{i}")(x)
    code = layers.Dense(config.latent, name="encoder_latent")(x)
    encoder = keras.Model(inp, code, name="encoder")

    code_in = x = keras.Input(shape=(config.latent,), name="code")
    for i, units in enumerate(reversed(config.hidden_units)):
        x = layers.Dense(units, activation=config.activation, name=f"decoder_dense_{i}")(x)
    x = layers.Dense(math.prod(shape), name="decoder_reconstruction")(x)
    if len(shape) > 1:
        x = layers.Reshape(shape, name="decoder_reshape")(x)
    return encoder, keras.Model(code_in, x, name="decoder")


def conv_parts(config: AutoencoderConfig, inputs: InputSpec):
    """Stride-2 convolutions → Dense latent, and Dense → transposed convolutions → crop."""
    import keras

    layers = keras.layers
    rank = SPATIAL_AXES.get(inputs.kind)
    if rank is None:
        raise ConfigError(
            f"an autoencoder of kind 'conv' needs signals, images or volumes; for "
            f"{inputs.kind} data set model.kind: dense. Received: kind={inputs.kind!r}"
        )
    conv = getattr(layers, f"Conv{rank}D")
    deconv = getattr(layers, f"Conv{rank}DTranspose")
    shape = tuple(inputs.shape)
    inp, x = spatial_input(inputs, rank, "autoencoder")
    sizes, channels = tuple(x.shape[1:-1]), x.shape[-1]
    for i, filters in enumerate(config.filters):
        x = conv(
            filters,
            config.kernel_size,
            strides=2,
            padding="same",
            activation=config.activation,
            name=f"encoder_conv_{i}",
        )(x)
    inner = tuple(x.shape[1:])
    x = layers.Flatten(name="encoder_flatten")(x)
    code = layers.Dense(config.latent, name="encoder_latent")(x)
    encoder = keras.Model(inp, code, name="encoder")

    code_in = keras.Input(shape=(config.latent,), name="code")
    x = layers.Dense(math.prod(inner), activation=config.activation, name="decoder_dense")(code_in)
    x = layers.Reshape(inner, name="decoder_unflatten")(x)
    for i, filters in enumerate(reversed(config.filters)):
        x = deconv(
            filters,
            config.kernel_size,
            strides=2,
            padding="same",
            activation=config.activation,
            name=f"decoder_deconv_{i}",
        )(x)
    x = conv(channels, config.kernel_size, padding="same", name="decoder_reconstruction")(x)
    excess = [grown - size for grown, size in zip(x.shape[1:-1], sizes, strict=True)]
    if any(excess):
        crop = tuple((0, e) for e in excess)
        x = getattr(layers, f"Cropping{rank}D")(
            crop[0] if rank == 1 else crop, name="decoder_crop"
        )(x)
    if tuple(x.shape[1:]) != shape:  # the channel axis spatial_input added
        x = layers.Reshape(shape, name="decoder_drop_channel")(x)
    return encoder, keras.Model(code_in, x, name="decoder")
