"""The `model:` section: one config class per architecture, chosen by `architecture`.

`ModelConfig` (the union at the end) is the list of architectures: the registry in
`dltrain.models` is derived from it, taking each class's tag as the name, its `kinds`
as the data kinds (`data.kind`) it works with, and the `build` function of
`dltrain/models/<tag>.py` as its builder. A new architecture is a class here, a member
of the union, and that module.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, PositiveInt, model_validator

from dltrain.config.base import Section, tagged_union

Activation = Literal["relu", "gelu", "elu", "selu", "tanh", "swish", "leaky_relu"]
Dropout = Annotated[float, Field(ge=0.0, lt=1.0)]
Widths = Annotated[list[PositiveInt], Field(min_length=1)]
KernelSize = Annotated[int, Field(ge=1, le=64)]
Pooling = Literal["max", "average", "none"]


class MLPConfig(Section):
    """A fully connected network (multi-layer perceptron) for tabular data, and for signals
    (each series flattened: the MLP baseline of Wang, Yan & Oates 2017)."""

    kinds: ClassVar[tuple[str, ...]] = ("tabular", "signals")

    architecture: Literal["mlp"] = "mlp"
    hidden_units: list[PositiveInt] = Field(default=[64, 32], min_length=1)
    """Width of each hidden layer, first to last. Defaults to [64, 32]."""
    activation: Activation = "relu"
    """Activation of the hidden layers. Defaults to "relu"."""
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Dropout rate after each hidden layer. Defaults to 0.0."""
    batch_norm: bool = False
    """Batch normalisation before each activation. Defaults to False."""
    l2: Annotated[float, Field(ge=0.0)] = 0.0
    """L2 weight penalty of the hidden layers. Defaults to 0.0."""


class CNNConfig(Section):
    """A 2-D convolutional network for images: conv blocks, global average pooling, head."""

    kinds: ClassVar[tuple[str, ...]] = ("images",)

    architecture: Literal["cnn"] = "cnn"
    filters: Widths = [32, 64, 128]
    """Filters of each conv block, first to last. Defaults to [32, 64, 128]."""
    kernel_size: KernelSize = 3
    """Side of the square convolution kernel. Defaults to 3."""
    activation: Activation = "relu"
    """Activation after each convolution. Defaults to "relu"."""
    batch_norm: bool = True
    """Batch normalisation before each activation. Defaults to True."""
    pooling: Pooling = "max"
    """2x2 pooling at the end of each block ("none": no downsampling). Defaults to "max"."""
    dropout: Dropout = 0.0
    """Dropout rate at the end of each block. Defaults to 0.0."""


class CNN1DConfig(Section):
    """A 1-D convolutional network for signals: conv blocks, global average pooling, head."""

    kinds: ClassVar[tuple[str, ...]] = ("signals",)

    architecture: Literal["cnn1d"] = "cnn1d"
    filters: Widths = [64, 128, 128]
    """Filters of each conv block, first to last. Defaults to [64, 128, 128]."""
    kernel_size: KernelSize = 5
    """Length of the convolution kernel, in samples. Defaults to 5."""
    activation: Activation = "relu"
    """Activation after each convolution. Defaults to "relu"."""
    batch_norm: bool = True
    """Batch normalisation before each activation. Defaults to True."""
    pooling: Pooling = "max"
    """Pooling by 2 at the end of each block ("none": no downsampling). Defaults to "max"."""
    dropout: Dropout = 0.0
    """Dropout rate at the end of each block. Defaults to 0.0."""


class CNN3DConfig(Section):
    """A 3-D convolutional network for volumes: conv blocks, global average pooling, head."""

    kinds: ClassVar[tuple[str, ...]] = ("volumes",)

    architecture: Literal["cnn3d"] = "cnn3d"
    filters: Widths = [16, 32, 64]
    """Filters of each conv block, first to last. Defaults to [16, 32, 64]."""
    kernel_size: KernelSize = 3
    """Side of the cubic convolution kernel. Defaults to 3."""
    activation: Activation = "relu"
    """Activation after each convolution. Defaults to "relu"."""
    batch_norm: bool = True
    """Batch normalisation before each activation. Defaults to True."""
    pooling: Pooling = "max"
    """2x2x2 pooling at the end of each block ("none": no downsampling). Defaults to "max"."""
    dropout: Dropout = 0.0
    """Dropout rate at the end of each block. Defaults to 0.0."""


class FCNConfig(Section):
    """The Fully Convolutional Network for signals (Wang, Yan & Oates 2017).

    Conv → BatchNorm → ReLU blocks without pooling, then global average pooling.
    """

    kinds: ClassVar[tuple[str, ...]] = ("signals",)

    architecture: Literal["fcn"] = "fcn"
    filters: Widths = [128, 256, 128]
    """Filters of each conv block. Defaults to [128, 256, 128] (the paper's)."""
    kernel_sizes: list[KernelSize] = Field(default=[8, 5, 3], min_length=1)
    """Kernel length of each conv block, one per filter count. Defaults to [8, 5, 3]."""

    @model_validator(mode="after")
    def _one_kernel_per_block(self):
        if len(self.filters) != len(self.kernel_sizes):
            raise ValueError(
                f"filters and kernel_sizes need the same length: one kernel size per "
                f"block. Received: filters={self.filters}, kernel_sizes={self.kernel_sizes}"
            )
        return self


class ResNet1DConfig(Section):
    """The residual network for signals (Wang, Yan & Oates 2017).

    Residual blocks of len(kernel_sizes) convolutions each, then global average pooling.
    """

    kinds: ClassVar[tuple[str, ...]] = ("signals",)

    architecture: Literal["resnet1d"] = "resnet1d"
    filters: Widths = [64, 128, 128]
    """Filters of each residual block. Defaults to [64, 128, 128] (the paper's)."""
    kernel_sizes: list[KernelSize] = Field(default=[8, 5, 3], min_length=1)
    """Kernel lengths of the convolutions inside every block. Defaults to [8, 5, 3]."""


class LSTMConfig(Section):
    """Stacked LSTM layers for signals, or for text after a token embedding."""

    kinds: ClassVar[tuple[str, ...]] = ("signals", "text")

    architecture: Literal["lstm"] = "lstm"
    units: Widths = [64]
    """Units of each LSTM layer, first to last. Defaults to [64]."""
    bidirectional: bool = False
    """Read the sequence both ways (doubles the outputs). Defaults to False."""
    dropout: Dropout = 0.0
    """Dropout rate after each LSTM layer. Defaults to 0.0."""
    embedding_dim: PositiveInt = 64
    """Text only: size of the learned token embedding. Defaults to 64."""


class GRUConfig(Section):
    """Stacked GRU layers for signals, or for text after a token embedding."""

    kinds: ClassVar[tuple[str, ...]] = ("signals", "text")

    architecture: Literal["gru"] = "gru"
    units: Widths = [64]
    """Units of each GRU layer, first to last. Defaults to [64]."""
    bidirectional: bool = False
    """Read the sequence both ways (doubles the outputs). Defaults to False."""
    dropout: Dropout = 0.0
    """Dropout rate after each GRU layer. Defaults to 0.0."""
    embedding_dim: PositiveInt = 64
    """Text only: size of the learned token embedding. Defaults to 64."""


class TransformerConfig(Section):
    """A Transformer encoder (Vaswani et al. 2017) for text or signals."""

    kinds: ClassVar[tuple[str, ...]] = ("signals", "text")

    architecture: Literal["transformer"] = "transformer"
    d_model: PositiveInt = 64
    """Width of the token representations; a multiple of `heads`. Defaults to 64."""
    heads: PositiveInt = 4
    """Attention heads per block. Defaults to 4."""
    ff_dim: PositiveInt = 128
    """Hidden width of each block's feed-forward network. Defaults to 128."""
    blocks: PositiveInt = 2
    """Number of encoder blocks. Defaults to 2."""
    dropout: Dropout = 0.1
    """Dropout rate on attention weights and residual branches. Defaults to 0.1."""
    pooling: Literal["average", "cls"] = "average"
    """How the sequence becomes one vector: the mean over (non-padding) positions,
    or a learned [CLS] token put in front. Defaults to "average"."""

    @model_validator(mode="after")
    def _heads_divide_width(self):
        if self.d_model % self.heads:
            raise ValueError(
                f"d_model must be a multiple of heads (each head gets d_model / heads "
                f"dimensions). Received: d_model={self.d_model}, heads={self.heads}"
            )
        return self


class AutoencoderConfig(Section):
    """An autoencoder (unsupervised): an encoder to `latent` numbers and a mirrored decoder.

    Its output is the reconstruction of the input; the encoder is the nested model
    named "encoder".
    """

    kinds: ClassVar[tuple[str, ...]] = ("tabular", "images", "signals", "volumes")

    architecture: Literal["autoencoder"] = "autoencoder"
    kind: Literal["dense", "conv"] = "dense"
    """Either "dense" (any input, flattened) or "conv" (images, signals, volumes).
    Defaults to "dense"."""
    latent: PositiveInt = 16
    """Size of the code the encoder produces. Defaults to 16."""
    hidden_units: Widths = [64, 32]
    """Dense only: widths of the encoder's hidden layers (the decoder mirrors them).
    Defaults to [64, 32]."""
    filters: Widths = [16, 32]
    """Conv only: filters of the encoder's stride-2 convolutions (the decoder mirrors
    them). Defaults to [16, 32]."""
    kernel_size: KernelSize = 3
    """Conv only: side of the convolution kernels. Defaults to 3."""
    activation: Activation = "relu"
    """Activation of the hidden layers. Defaults to "relu"."""


class PretrainedConfig(Section):
    """Transfer learning: a `keras.applications` backbone with local weights, and a new head.

    Grayscale images are repeated to three channels, images smaller than `min_size` are
    resized up (bilinear), and the normalised input is mapped to the per-channel ImageNet
    statistics in the backbone's own input convention. The backbone is the nested model
    named "backbone"; `train.fine_tune` freezes it, then unfreezes it.
    """

    kinds: ClassVar[tuple[str, ...]] = ("images",)

    architecture: Literal["pretrained"] = "pretrained"
    backbone: Literal["MobileNetV2", "EfficientNetB0", "ResNet50", "DenseNet121"] = "MobileNetV2"
    """The `keras.applications` network, without its classifier. Defaults to "MobileNetV2"."""
    weights: str | None = "imagenet"
    """A local weights file of that backbone (`.weights.h5`, or a Keras `.h5`), "imagenet"
    (only if the file is already in the Keras cache, ~/.keras/models: nothing is
    downloaded), or null for random initialisation. Defaults to "imagenet"."""
    alpha: Literal[0.35, 0.5, 0.75, 1.0, 1.3, 1.4] = 1.0
    """MobileNetV2 only: width multiplier (0.35 is the smallest). Defaults to 1.0."""
    min_size: Annotated[int, Field(ge=32, le=1024)] = 32
    """Images whose height or width is smaller are resized up to this side before the
    backbone (32 is the smallest these backbones accept). Defaults to 32."""
    dropout: Dropout = 0.2
    """Dropout rate before the new head. Defaults to 0.2."""


ModelConfig = tagged_union(
    "architecture",
    MLPConfig,
    CNNConfig,
    CNN1DConfig,
    FCNConfig,
    ResNet1DConfig,
    LSTMConfig,
    GRUConfig,
    TransformerConfig,
    CNN3DConfig,
    AutoencoderConfig,
    PretrainedConfig,
    default="mlp",
)
