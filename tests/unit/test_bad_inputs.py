"""Every bad input: one clear message (what, where, how to fix), its exit code, nothing written.

Unit tests: each is refused before TensorFlow is imported (the CLI in-process)."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config


@pytest.fixture(autouse=True)
def _refused_before_tensorflow():
    """Checked where nothing imported TensorFlow before (this module alone, or first on an
    xdist worker): no bad input here gets as far as the framework."""
    before = "tensorflow" in sys.modules
    yield
    assert before or "tensorflow" not in sys.modules, "a bad-input test imported TensorFlow"


def _nothing_written(workdir):
    for folder in ("runs", "data/processed"):
        path = workdir / folder
        assert not path.exists() or not list(path.iterdir()), folder


def _check(result, code, *needles):
    assert result.exit_code == code, result.output
    for needle in needles:
        assert needle in result.output, (needle, result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["preprocess", "train"])
def test_missing_config_file(workdir, cli, command):
    _check(cli(command, "nope.yaml"), 2, "config file not found: nope.yaml")


def test_unknown_config_key(tabular_experiment, cli):
    text = tabular_experiment.read_text().replace("epochs: 2", "epoch: 2")
    tabular_experiment.write_text(text)
    _check(
        cli("train", tabular_experiment),
        2,
        "exp.yaml:12: train.epoch: unknown key 'epoch'",
        "Did you mean 'epochs'?",
    )
    _nothing_written(tabular_experiment.parent)


def test_wrong_type(tabular_experiment, cli):
    _check(
        cli("train", tabular_experiment, "--set", "train.batch_size=big"),
        2,
        "--set train.batch_size=big: train.batch_size: input should be a valid integer",
    )


def test_missing_data_file(workdir, cli):
    config = write_config(workdir, BASIC_CONFIG)
    _check(cli("preprocess", config), 3, "data file not found: table.csv", "exp.yaml:5")
    _nothing_written(workdir)


def test_unknown_group_column(workdir, cli):
    make_table().to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    _check(
        cli("preprocess", config, "--set", "data.group=patient_id"),
        2,
        "--set data.group=patient_id: data.group: column 'patient_id' is not in the data",
        "Did you mean 'patient'?",
    )


def test_non_numeric_value_names_row_and_column(workdir, cli):
    table = make_table().astype({"age": "object"})
    table.loc[6, "age"] = "61,5"
    table.to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    _check(
        cli("preprocess", config),
        3,
        "table.csv:8: column 'age': value '61,5' is not a number",
        "data.categorical",
    )
    _nothing_written(workdir)


def test_class_with_too_few_rows(workdir, cli):
    table = make_table(n=60)
    table.loc[0, "outcome"] = "rare"
    table.to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    _check(cli("preprocess", config), 3, "'rare': 1 row(s)", "data.rare_classes: merge")
    _nothing_written(workdir)


def test_empty_csv(workdir, cli):
    (workdir / "table.csv").write_text("")
    config = write_config(workdir, BASIC_CONFIG)
    _check(cli("preprocess", config), 3, "table.csv: the file is empty")
    _nothing_written(workdir)


def test_header_only_csv(workdir, cli):
    (workdir / "table.csv").write_text("age,marker,outcome\n")
    config = write_config(workdir, BASIC_CONFIG)
    _check(cli("preprocess", config), 3, "has a header but no data rows")


def test_missing_target_values_listed(workdir, cli):
    table = make_table()
    table.loc[[3, 10], "outcome"] = None
    table.to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    _check(
        cli("preprocess", config), 3, "2 row(s) have no target value", "table.csv:5", "table.csv:12"
    )


def test_single_class_target(workdir, cli):
    table = make_table()
    table["outcome"] = "sick"
    table.to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    _check(cli("preprocess", config), 3, "has a single value ('sick')")


def test_unknown_positive_class(tabular_experiment, cli):
    _check(
        cli("preprocess", tabular_experiment, "--set", "data.positive_class=ill"),
        2,
        "data.positive_class 'ill' is not a class",
        "healthy, sick",
    )


def test_malformed_override(tabular_experiment, cli):
    _check(cli("train", tabular_experiment, "--set", "epochs"), 2, "--set expects KEY=VALUE")


def test_preprocess_prints_summary_and_hits_cache(tabular_experiment, cli):
    first = cli("preprocess", tabular_experiment)
    _check(first, 0, "Written:", "binary")
    _check(cli("preprocess", tabular_experiment), 0, "Cache hit:")
