"""Base configs (`base: common.yaml`) merged then validated as one, errors pointing to the
file and line a value came from; `dltrain config` prints the resolved config."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from dltrain.cli import app
from dltrain.config import load_config
from dltrain.errors import ConfigError
from tests.conftest import write_config

COMMON = """
seed: 7
data:
  kind: tabular
  path: ../table.csv
  target: outcome
model:
  architecture: mlp
  hidden_units: [8]
  dropout: 0.1
train:
  epochs: 3
  optimizer: {name: adam, learning_rate: 0.005}
"""


@pytest.fixture
def common(workdir):
    (workdir / "shared").mkdir()
    return write_config(workdir / "shared", COMMON, "common.yaml")


def test_a_base_config_is_merged_under_the_experiment(workdir, common):
    path = write_config(
        workdir,
        """
        name: demo
        base: shared/common.yaml
        model: {dropout: 0.3}
        train: {epochs: 5}
        """,
    )
    config = load_config(path)
    assert (config.seed, config.model.hidden_units, config.model.dropout) == (7, [8], 0.3)
    assert config.train.epochs == 5 and config.train.optimizer.learning_rate == 0.005
    assert config.where("model.dropout") == f"{path}:3"
    assert config.where("model.hidden_units") == f"{common}:8"
    assert config.where("data.path") == f"{common}:4"  # data paths resolve from the base's folder


def test_an_error_in_a_base_value_points_to_the_base_file_and_line(workdir, common):
    common.write_text(common.read_text().replace("dropout: 0.1", "dropout: 1.5"))
    path = write_config(workdir, "name: demo\nbase: shared/common.yaml\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(d.startswith(f"{common}:9: model.dropout") for d in caught.value.details)


def test_a_section_that_changes_kind_replaces_the_base_section(workdir, common):
    path = write_config(
        workdir, "name: demo\nbase: shared/common.yaml\ntrain:\n  optimizer: {name: sgd}\n"
    )
    optimizer = load_config(path).train.optimizer
    assert optimizer.name == "sgd" and optimizer.learning_rate != 0.005  # adam's did not carry over


@pytest.mark.parametrize(
    "base, message",
    [
        ("missing.yaml", "base config not found"),
        ("[a, b]", "base must name one config file"),
        ("exp.yaml", "base configs name each other in a circle"),
    ],
)
def test_bad_bases_are_config_errors_with_the_line(workdir, base, message):
    path = write_config(workdir, f"name: demo\nbase: {base}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in caught.value.message and caught.value.where == f"{path}:2"


def test_dltrain_config_prints_the_resolved_config_with_every_default(workdir, common):
    path = write_config(workdir, "name: demo\nbase: shared/common.yaml\n")
    runner = CliRunner()
    result = runner.invoke(app, ["config", str(path), "--set", "train.batch_size=8"])
    assert result.exit_code == 0, result.output
    printed = yaml.safe_load(result.stdout)
    assert printed["train"]["batch_size"] == 8 and printed["seed"] == 7
    assert printed["evaluate"]["bootstrap"] == 1000  # a default, filled in
    assert "base" not in printed
    as_json = json.loads(runner.invoke(app, ["config", str(path), "--json"]).stdout)
    assert as_json["model"]["architecture"] == "mlp"
