"""Shared fixtures: every test works in its own temporary folder with tiny data."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist's `--dist loadgroup` (`pytest -n 2`), a module's tests stay on one
    worker, so its module-scoped trained runs are built once; a module whose tests share
    nothing expensive sets `SPREAD = True` and its tests go wherever a worker is free."""
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and not getattr(module, "SPREAD", False):
            item.add_marker(pytest.mark.xdist_group(module.__name__))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working directory: runs/ and data/processed/ are created inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLTRAIN_RUNS", raising=False)
    monkeypatch.delenv("DLTRAIN_CACHE", raising=False)
    return tmp_path


def make_table(
    n: int = 90,
    *,
    task: str = "binary",
    seed: int = 0,
    groups: int | None = None,
    missing: bool = False,
) -> pd.DataFrame:
    """A small learnable table: two informative numbers, a noise column and a category."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "patient": [f"p{i % groups}" for i in range(n)]
            if groups
            else [f"s{i}" for i in range(n)],
            "age": np.round(50 + 10 * a, 1),
            "marker": np.round(b, 3),
            "noise": np.round(rng.normal(size=n), 3),
            "sex": rng.choice(["f", "m"], size=n),
        }
    )
    if task == "binary":
        frame["outcome"] = np.where(a + b > 0, "sick", "healthy")
    elif task == "multiclass":
        frame["outcome"] = np.select([a + b < -0.5, a + b < 0.5], ["low", "mid"], "high")
    else:
        frame["outcome"] = np.round(3 * a - 2 * b + rng.normal(scale=0.1, size=n), 3)
    if missing:
        frame.loc[frame.index[::7], "marker"] = np.nan
    return frame


def write_config(folder: Path, text: str, name: str = "exp.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


BASIC_CONFIG = """
name: demo
seed: 3
data:
  kind: tabular
  path: table.csv
  target: outcome
  id: patient
model:
  architecture: mlp
  hidden_units: [8]
train:
  epochs: 2
  batch_size: 16
  sanity: false  # the suite is tested where it is under test (SANITY_ON)
evaluate:
  bootstrap: 50
"""


@pytest.fixture(scope="session")
def cli():
    """Runs `dltrain ARGS...` in-process; returns the click Result."""
    from typer.testing import CliRunner

    from dltrain.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


SANITY_ON = ["--set", "train.sanity=true"]  # for BASIC_CONFIG runs that test the suite


@pytest.fixture
def tabular_experiment(workdir):
    """A binary-outcome CSV and a config for it in the working directory."""
    make_table().to_csv(workdir / "table.csv", index=False)
    return write_config(workdir, BASIC_CONFIG)
