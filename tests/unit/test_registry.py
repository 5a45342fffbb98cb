"""The architecture registry: names agree with the schema tags, every entry declares its
data kinds, `check_kind` explains a mismatch, and every config refuses bad values."""

from __future__ import annotations

import importlib
from typing import ClassVar, Literal

import pytest
from pydantic import TypeAdapter, ValidationError

from dltrain.config.base import Section, tagged_union, union_tags
from dltrain.config.models import MLPConfig, ModelConfig
from dltrain.errors import ConfigError
from dltrain.models import ARCHITECTURES, DATA_KINDS, architectures, check_kind
from dltrain.models.registry import Registry


def test_registry_names_match_schema_tags():
    assert ARCHITECTURES.names() == sorted(union_tags(ModelConfig, "architecture"))


def test_registry_config_classes_are_the_schema_members():
    for name in ARCHITECTURES.names():
        entry = ARCHITECTURES.get(name)
        assert entry.config_class.model_fields["architecture"].default == name


def test_every_builder_is_the_build_function_of_the_module_named_after_the_tag():
    for name in ARCHITECTURES.names():
        module = importlib.import_module(f"dltrain.models.{name}")
        assert ARCHITECTURES.get(name).builder is module.build, name


class _NoBuilderConfig(Section):
    kinds: ClassVar[tuple[str, ...]] = ("tabular",)
    architecture: Literal["nosuch"] = "nosuch"


class _SecondMLPConfig(Section):
    kinds: ClassVar[tuple[str, ...]] = ("tabular",)
    architecture: Literal["mlp"] = "mlp"


def test_registry_is_derived_from_the_union_in_its_order():
    union = tagged_union("architecture", _SecondMLPConfig, default="mlp")
    registry = architectures(union)
    assert registry.names() == ["mlp"]
    assert registry.get("mlp").config_class is _SecondMLPConfig
    assert registry.get("mlp").kinds == ("tabular",)


def test_a_config_class_without_a_builder_module_is_refused_by_name():
    union = tagged_union("architecture", MLPConfig, _NoBuilderConfig, default="mlp")
    with pytest.raises(ImportError) as info:
        architectures(union)
    assert str(info.value) == (
        "architecture 'nosuch' (_NoBuilderConfig) has no builder: write "
        "dltrain/models/nosuch.py with build(config, inputs, outputs)"
    )


def test_a_tag_twice_in_the_union_is_refused():
    union = tagged_union("architecture", MLPConfig, _SecondMLPConfig, default="mlp")
    with pytest.raises(ValueError, match="architecture 'mlp' is already registered"):
        architectures(union)


def test_add_keeps_any_object_in_order_and_refuses_duplicates():
    reg = Registry("thing")
    reg.add("b", 2)
    reg.add("a", 1)
    assert reg.get("a") == 1 and reg.items() == [2, 1] and reg.names() == ["a", "b"]
    assert reg.supporting("images") == []
    with pytest.raises(ValueError, match="thing 'a' is already registered"):
        reg.add("a", 3)


def test_duplicates_are_refused():
    reg = Registry("thing")
    reg.register("a", object, None)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", object, None)


def test_failed_lookup_lists_options_and_suggests():
    with pytest.raises(LookupError, match=r"unknown architecture 'mpl'. Did you mean 'mlp'\?"):
        ARCHITECTURES.get("mpl")


def test_register_keeps_kinds_and_lists_names_by_kind():
    reg = Registry("thing")
    reg.register("b", object, None, kinds=("images", "signals"))
    reg.register("a", object, None, kinds=["images"])
    assert reg.get("b").kinds == ("images", "signals")
    assert reg.supporting("images") == ["a", "b"]
    assert reg.supporting("text") == []


def test_every_architecture_declares_known_kinds():
    for name in ARCHITECTURES.names():
        entry = ARCHITECTURES.get(name)
        assert entry.kinds, f"{name} declares no data kinds"
        assert set(entry.kinds) <= set(DATA_KINDS), name
        assert entry.kinds == entry.config_class.kinds, name
    for kind in DATA_KINDS:
        assert ARCHITECTURES.supporting(kind), f"no architecture for {kind}"


@pytest.mark.parametrize(
    ("architecture", "kind", "message"),
    [
        (
            "cnn",
            "tabular",
            "architecture 'cnn' does not work with tabular data; it needs images. "
            "For tabular data use: autoencoder, mlp",
        ),
        (
            "lstm",
            "images",
            "architecture 'lstm' does not work with images; it needs signals or text. "
            "For images use: autoencoder, cnn, pretrained",
        ),
        (
            "autoencoder",
            "text",
            "architecture 'autoencoder' does not work with text; it needs tabular data, "
            "images, signals or volumes. For text use: gru, lstm, transformer",
        ),
        (
            "mlp",
            "images",
            "architecture 'mlp' does not work with images; it needs tabular data or signals. "
            "For images use: autoencoder, cnn, pretrained",
        ),
    ],
)
def test_check_kind_names_needed_kinds_and_suggests(architecture, kind, message):
    with pytest.raises(ConfigError) as info:
        check_kind(architecture, kind)
    assert str(info.value) == message
    assert info.value.exit_code == 2


def test_check_kind_accepts_every_declared_kind():
    for name in ARCHITECTURES.names():
        for kind in ARCHITECTURES.get(name).kinds:
            check_kind(name, kind)


def test_check_kind_refuses_unknown_kind_and_architecture():
    with pytest.raises(ConfigError, match="unknown data kind 'image'; use one of: tabular, images"):
        check_kind("cnn", "image")
    with pytest.raises(ConfigError, match="unknown architecture 'cnn2d'. Did you mean 'cnn"):
        check_kind("cnn2d", "images")


# Values each architecture's schema must refuse: (key, value).
BAD_VALUES = {
    "mlp": [("hidden_units", [-4]), ("hidden_units", []), ("dropout", 1.0), ("l2", -0.1)],
    "cnn": [("filters", [-8]), ("filters", []), ("kernel_size", 0), ("pooling", "min")],
    "cnn1d": [("filters", [0]), ("dropout", -0.1), ("activation", "sigmoidish")],
    "cnn3d": [("filters", [8, -1]), ("kernel_size", 65), ("batch_norm", "maybe")],
    "fcn": [("filters", [-128]), ("kernel_sizes", [0, 5, 3]), ("filters", [8, 8])],
    "resnet1d": [("filters", [0, 8]), ("kernel_sizes", []), ("kernel_sizes", [8, -5])],
    "lstm": [("units", []), ("units", [-1]), ("dropout", 1.5), ("embedding_dim", 0)],
    "gru": [("units", [0]), ("bidirectional", "both"), ("embedding_dim", -2)],
    "transformer": [("d_model", 0), ("heads", 3), ("blocks", 0), ("ff_dim", -1)],
    "autoencoder": [("latent", 0), ("kind", "lstm"), ("filters", [-2]), ("hidden_units", [])],
    "pretrained": [("backbone", "VGG16"), ("alpha", 0.4), ("min_size", 16), ("dropout", 1.0)],
}


def test_every_architecture_has_bad_value_cases():
    assert sorted(BAD_VALUES) == ARCHITECTURES.names()


@pytest.mark.parametrize(
    ("architecture", "key", "value"),
    [(a, k, v) for a, cases in BAD_VALUES.items() for k, v in cases],
)
def test_schema_refuses_bad_values(architecture, key, value):
    adapter = TypeAdapter(ModelConfig)
    with pytest.raises(ValidationError):
        adapter.validate_python({"architecture": architecture, key: value})


def test_schema_messages_for_cross_field_rules():
    adapter = TypeAdapter(ModelConfig)
    with pytest.raises(ValidationError, match="d_model must be a multiple of heads"):
        adapter.validate_python({"architecture": "transformer", "d_model": 10, "heads": 4})
    with pytest.raises(ValidationError, match="one kernel size per block"):
        adapter.validate_python({"architecture": "fcn", "filters": [8, 8]})


def test_every_architecture_validates_by_tag_with_defaults():
    adapter = TypeAdapter(ModelConfig)
    for name in ARCHITECTURES.names():
        config = adapter.validate_python({"architecture": name})
        assert type(config) is ARCHITECTURES.get(name).config_class
    assert type(adapter.validate_python({})).__name__ == "MLPConfig"
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        adapter.validate_python({"architecture": "cnn", "hidden_units": [4]})


def test_every_setting_is_documented_with_its_default():
    for name in ARCHITECTURES.names():
        fields = ARCHITECTURES.get(name).config_class.model_fields
        for key, field in fields.items():
            if key == "architecture":
                continue
            doc = field.description or ""
            assert "Defaults to " in doc and doc.endswith("."), f"{name}.{key}: {doc!r}"
