"""The architecture registry and the config schema name the same architectures."""

from __future__ import annotations

import pytest

from dltrain.config.base import union_tags
from dltrain.config.models import ModelConfig
from dltrain.models import ARCHITECTURES
from dltrain.models.registry import Registry


def test_registry_names_match_schema_tags():
    assert ARCHITECTURES.names() == sorted(union_tags(ModelConfig, "architecture"))


def test_registry_config_classes_are_the_schema_members():
    for name in ARCHITECTURES.names():
        entry = ARCHITECTURES.get(name)
        assert entry.config_class.model_fields["architecture"].default == name


def test_duplicates_are_refused():
    reg = Registry("thing")
    reg.register("a", object, None)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", object, None)


def test_failed_lookup_lists_options_and_suggests():
    with pytest.raises(LookupError, match=r"unknown architecture 'mpl'. Did you mean 'mlp'\?"):
        ARCHITECTURES.get("mpl")
