"""The architecture registry, derived from the `model:` config union.

Every member of `dltrain.config.models.ModelConfig` is an architecture: its tag
(`architecture: "cnn1d"`) is the name, its `kinds` the data kinds it works with, and
its builder is, by convention, the `build(config, inputs, outputs)` function of the
module named after the tag (`dltrain/models/cnn1d.py`). So the names are listed once,
in the union, and adding an architecture touches its config class (and the union) in
`dltrain/config/models.py`, its module here, and its tests.

Importing this package does not import Keras: the builders import it when called.
"""

from __future__ import annotations

import importlib

from dltrain.config.base import union_members
from dltrain.config.models import ModelConfig
from dltrain.errors import ConfigError
from dltrain.models.registry import Builder, Entry, Registry
from dltrain.models.specs import DATA_KINDS, InputSpec, OutputSpec


def architectures(union, package: str = __name__) -> Registry[Entry[Builder]]:
    """The registry of every config class in `union`, each with its builder module's `build`.

    Args:
        union: a discriminated union of config classes tagged by `architecture`.
        package: where the builder modules are. Defaults to "dltrain.models".

    Returns:
        A registry entry per member, in the union's order: name = the tag, kinds = the
        class's `kinds`, builder = `<package>.<tag>.build`.

    Raises:
        ValueError: a tag twice in the union.
        ImportError: a member without a builder module or without `build` in it.
    """
    registry: Registry[Entry[Builder]] = Registry("architecture")
    for config_class in union_members(union):
        name = config_class.model_fields["architecture"].default
        where = f"{package}.{name}"
        try:
            builder = importlib.import_module(where).build
        except (ModuleNotFoundError, AttributeError) as exc:
            if isinstance(exc, ModuleNotFoundError) and exc.name != where:
                raise  # the module exists but imports something missing
            raise ImportError(
                f"architecture {name!r} ({config_class.__name__}) has no builder: write "
                f"{where.replace('.', '/')}.py with build(config, inputs, outputs)"
            ) from None
        registry.register(name, config_class, builder, kinds=config_class.kinds)
    return registry


ARCHITECTURES = architectures(ModelConfig)

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
