"""Integration fixtures: CLI invocations in-process (one TensorFlow import per test run)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dltrain.cli import app


@pytest.fixture(scope="session")
def cli():
    """Runs `dltrain ARGS...` in-process; returns the click Result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
