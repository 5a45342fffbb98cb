"""`dltrain --help` stays fast: the CLI and config code never import TensorFlow or Keras."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from dltrain.cli import app

HEAVY = ("tensorflow", "keras", "sklearn", "matplotlib", "pandas")


def test_cli_and_config_import_no_framework():
    code = (
        "import sys, dltrain.cli, dltrain.config, dltrain.runs, dltrain.models; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_dash_m_works():
    out = subprocess.run(
        [sys.executable, "-m", "dltrain", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("preprocess", "train", "evaluate", "predict", "export", "runs"):
        assert command in out.stdout


def test_every_command_has_help():
    runner = CliRunner()
    for command in (
        "init",
        "config",
        "preprocess",
        "train",
        "evaluate",
        "predict",
        "export",
        "runs",
    ):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
    assert "--set" in runner.invoke(app, ["train", "--help"]).output
