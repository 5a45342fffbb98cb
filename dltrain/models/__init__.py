"""The architecture registry. Every architecture is registered here, explicitly.

Importing this package does not import Keras: the builders import it when called.
"""

from __future__ import annotations

from dltrain.config.models import (
    AutoencoderConfig,
    CNN1DConfig,
    CNN3DConfig,
    CNNConfig,
    FCNConfig,
    GRUConfig,
    LSTMConfig,
    MLPConfig,
    PretrainedConfig,
    ResNet1DConfig,
    TransformerConfig,
)
from dltrain.errors import ConfigError
from dltrain.models import (
    autoencoder,
    cnn,
    cnn1d,
    cnn3d,
    fcn,
    gru,
    lstm,
    mlp,
    pretrained,
    resnet1d,
    transformer,
)
from dltrain.models.registry import Registry
from dltrain.models.specs import DATA_KINDS, InputSpec, OutputSpec

ARCHITECTURES: Registry = Registry("architecture")
ARCHITECTURES.register("mlp", MLPConfig, mlp.build, kinds=MLPConfig.kinds)
ARCHITECTURES.register("cnn", CNNConfig, cnn.build, kinds=CNNConfig.kinds)
ARCHITECTURES.register("cnn1d", CNN1DConfig, cnn1d.build, kinds=CNN1DConfig.kinds)
ARCHITECTURES.register("fcn", FCNConfig, fcn.build, kinds=FCNConfig.kinds)
ARCHITECTURES.register("resnet1d", ResNet1DConfig, resnet1d.build, kinds=ResNet1DConfig.kinds)
ARCHITECTURES.register("lstm", LSTMConfig, lstm.build, kinds=LSTMConfig.kinds)
ARCHITECTURES.register("gru", GRUConfig, gru.build, kinds=GRUConfig.kinds)
ARCHITECTURES.register(
    "transformer", TransformerConfig, transformer.build, kinds=TransformerConfig.kinds
)
ARCHITECTURES.register("cnn3d", CNN3DConfig, cnn3d.build, kinds=CNN3DConfig.kinds)
ARCHITECTURES.register(
    "autoencoder", AutoencoderConfig, autoencoder.build, kinds=AutoencoderConfig.kinds
)
ARCHITECTURES.register(
    "pretrained", PretrainedConfig, pretrained.build, kinds=PretrainedConfig.kinds
)

# How a kind reads in a sentence: "it needs images", "For tabular data use: ...".
_KIND_WORDS = {"tabular": "tabular data"}


def build_model(config, inputs: InputSpec, outputs: OutputSpec):
    """Builds the `keras.Model` for a model config via the registry."""
    entry = ARCHITECTURES.get(config.architecture)
    return entry.builder(config, inputs, outputs)


def check_kind(architecture: str, kind: str) -> None:
    """Refuses an architecture that does not work with the data kind.

    Args:
        architecture: a registered architecture name, e.g. "cnn".
        kind: the data kind, one of `DATA_KINDS`.

    Raises:
        ConfigError: the architecture (or the kind) is unknown, or the architecture
            does not declare the kind; the message names the kinds it needs and the
            architectures that fit `kind`.

    Example:
        `check_kind("cnn", "tabular")` raises "architecture 'cnn' does not work with
        tabular data; it needs images. For tabular data use: autoencoder, mlp".
    """
    if kind not in DATA_KINDS:
        raise ConfigError(
            f"unknown data kind {kind!r}; use one of: {', '.join(DATA_KINDS)}. "
            f"Received: kind={kind!r}"
        )
    try:
        entry = ARCHITECTURES.get(architecture)
    except LookupError as exc:
        raise ConfigError(str(exc)) from None
    if kind in entry.kinds:
        return
    needs = [_KIND_WORDS.get(k, k) for k in entry.kinds]
    needs_text = (
        " or ".join(needs) if len(needs) < 3 else ", ".join(needs[:-1]) + " or " + needs[-1]
    )
    words = _KIND_WORDS.get(kind, kind)
    raise ConfigError(
        f"architecture {architecture!r} does not work with {words}; it needs {needs_text}. "
        f"For {words} use: {', '.join(ARCHITECTURES.supporting(kind))}"
    )


__all__ = ["ARCHITECTURES", "DATA_KINDS", "InputSpec", "OutputSpec", "build_model", "check_kind"]
