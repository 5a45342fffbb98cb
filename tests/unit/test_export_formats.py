"""The export formats registry: exactly keras, savedmodel, onnx and tflite, in that order,
each with its file, its requirements and its serving line; duplicates are refused."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from dltrain.cli import app
from dltrain.errors import UsageError
from dltrain.evaluation.export import FORMATS, run_exported
from dltrain.evaluation.export.formats import EXPORT_FORMATS, KERAS, ONNX, ExportFormat


def test_registry_lists_exactly_the_four_formats_in_order():
    assert FORMATS == ("keras", "savedmodel", "onnx", "tflite")
    assert EXPORT_FORMATS.names() == sorted(FORMATS)
    assert [f.name for f in EXPORT_FORMATS.items()] == list(FORMATS)
    artifacts = {f.name: f.artifact for f in EXPORT_FORMATS.items()}
    assert artifacts == {
        "keras": "model.keras",
        "savedmodel": "saved_model",
        "onnx": "model.onnx",
        "tflite": "model.tflite",
    }
    for fmt in EXPORT_FORMATS.items():
        assert fmt.artifact in fmt.serving, fmt.name


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="export format 'keras' is already registered"):
        EXPORT_FORMATS.add("keras", KERAS)
    assert [f.name for f in EXPORT_FORMATS.items()] == list(FORMATS)


def test_failed_lookup_suggests_a_format():
    with pytest.raises(LookupError, match=r"unknown export format 'onx'. Did you mean 'onnx'\?"):
        run_exported("onx", None, None)


def test_a_missing_requirement_is_a_usage_error_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if the [onnx] extra were absent
    with pytest.raises(UsageError, match=r"pip install 'dltrain\[onnx\]'") as info:
        ONNX.require()
    assert info.value.exit_code == 2
    ExportFormat("plain", "x", None, None, "x").require()  # nothing required: no error


def test_only_the_keras_file_keeps_the_run_models_input_name():
    model = SimpleNamespace(inputs=[SimpleNamespace(name="features")])
    names = {f.name: f.input_name(model) for f in EXPORT_FORMATS.items()}
    assert names == {
        "keras": "features",
        "savedmodel": "inputs",
        "onnx": "inputs",
        "tflite": "inputs",
    }


def test_export_help_names_every_format():
    result = CliRunner().invoke(app, ["export", "--help"])
    assert result.exit_code == 0
    for name in FORMATS:
        assert name in result.output, name


def test_importing_the_formats_imports_no_framework():
    code = (
        "import sys, dltrain.evaluation.export; "
        "print([m for m in ('tensorflow', 'keras', 'onnx', 'tf2onnx') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
