"""Config loading: every problem at once, with file:line and did-you-mean; safe YAML."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from dltrain.cli import app
from dltrain.config import dump_config, load_config
from dltrain.config.load import parse_yaml
from dltrain.errors import ConfigError, UsageError
from tests.conftest import BASIC_CONFIG, write_config


def test_valid_config_is_frozen_with_defaults(tmp_path):
    cfg = load_config(write_config(tmp_path, BASIC_CONFIG))
    assert cfg.name == "demo" and cfg.data.target == "outcome"
    assert cfg.model.hidden_units == [8]
    assert cfg.train.optimizer.name == "adam" and cfg.train.optimizer.learning_rate == 1e-3
    with pytest.raises(ValidationError, match="frozen"):
        cfg.seed = 4
    assert cfg.where("train.epochs").endswith("exp.yaml:12")


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(write_config(tmp_path, BASIC_CONFIG))
    again = load_config(write_config(tmp_path, dump_config(cfg), "resolved.yaml"))
    assert again.model_dump() == cfg.model_dump()


def test_every_problem_reported_with_line_and_hint(tmp_path):
    path = write_config(
        tmp_path,
        """
        name: demo
        data:
          kind: tabular
          path: t.csv
          target: y
          split: {method: stratifed}
        model:
          architecture: mlp
          hidden_unit: [8]
          activation: rellu
        train:
          epochs: -3
          optimizer: {name: adma}
    """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "5 problems" in text
    assert f"{path}:6: data.split.method: unknown method 'stratifed'" in text
    assert "Did you mean 'stratified'?" in text
    assert (
        f"{path}:9: model.hidden_unit: unknown key 'hidden_unit'. Did you mean 'hidden_units'?"
        in text
    )
    assert f"{path}:10: model.activation" in text and "Did you mean 'relu'?" in text
    assert f"{path}:12: train.epochs: input should be greater than 0. Received: -3" in text
    assert "Did you mean 'adam'?" in text


def test_wrong_type_names_the_key(tmp_path):
    path = write_config(tmp_path, BASIC_CONFIG.replace("epochs: 2", "epochs: many"))
    with pytest.raises(
        ConfigError, match=r"exp.yaml:12: train.epochs: input should be a valid integer"
    ):
        load_config(path)


def test_boolean_words_are_not_strings(tmp_path):
    path = write_config(tmp_path, BASIC_CONFIG.replace("target: outcome", "target: no"))
    with pytest.raises(ConfigError, match=r"data.target: input should be a valid string"):
        load_config(path)


def test_overrides_validate_through_the_same_schema(tmp_path):
    path = write_config(tmp_path, BASIC_CONFIG)
    cfg = load_config(
        path, ["train.epochs=30", "train.optimizer.learning_rate=1e-4", "model.hidden_units=[4, 2]"]
    )
    assert cfg.train.epochs == 30 and cfg.train.optimizer.learning_rate == 1e-4
    assert cfg.model.hidden_units == [4, 2]
    assert cfg.where("train.epochs") == "--set train.epochs=30"
    with pytest.raises(
        ConfigError,
        match=r"--set train.epoch=3: train.epoch: unknown key 'epoch'. "
        r"Did you mean 'epochs'\?",
    ):
        load_config(path, ["train.epoch=3"])
    with pytest.raises(ConfigError, match="greater than 0"):
        load_config(path, ["train.batch_size=0"])


@pytest.mark.parametrize("bad", ["train.epochs", "=3", "train..epochs=3"])
def test_malformed_override_is_a_usage_error(tmp_path, bad):
    with pytest.raises(UsageError, match="KEY=VALUE"):
        load_config(write_config(tmp_path, BASIC_CONFIG), [bad])


def test_missing_file_suggests_a_close_name(tmp_path):
    write_config(tmp_path, BASIC_CONFIG, "experiment.yaml")
    with pytest.raises(UsageError, match="config file not found.*Did you mean .*experiment.yaml"):
        load_config(tmp_path / "experment.yaml")


def test_yaml_syntax_error_has_line(tmp_path):
    path = write_config(tmp_path, "name: demo\ndata:\n  kind: [tabular\n  path: x\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.where.startswith(f"{path}:")


def test_duplicate_keys_name_both_lines(tmp_path):
    path = write_config(tmp_path, "name: a\nseed: 1\nname: b\n")
    with pytest.raises(
        ConfigError, match=r"duplicate key 'name' \(first on line 1, again on line 3\)"
    ):
        load_config(path)


def test_python_tags_are_refused(tmp_path):
    path = write_config(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="tags that create objects are refused") as info:
        load_config(path)
    assert info.value.where == f"{path}:1"


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(
            f"{chr(97 + i)}: &{chr(97 + i)} [*{chr(96 + i)}, *{chr(96 + i)}, "
            f"*{chr(96 + i)}, *{chr(96 + i)}]"
        )
    path = write_config(tmp_path, "\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="aliases"):
        load_config(path)
    assert time.perf_counter() - start < 5  # guard against a hang, not a speed target


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write_config(tmp_path, "- a\n- b\n"))


def test_missing_required_key(tmp_path):
    with pytest.raises(ConfigError, match=r"data.target: required key is missing"):
        load_config(write_config(tmp_path, "name: x\ndata: {kind: tabular, path: a.csv}\n"))


def test_number_forms(tmp_path):
    data, _ = parse_yaml("a: 1e-3\nb: 1.0e-3\n", "x")
    cfg = load_config(write_config(tmp_path, BASIC_CONFIG), ["train.optimizer.learning_rate=1e-3"])
    assert cfg.train.optimizer.learning_rate == 0.001
    assert data["b"] == 0.001


def test_group_split_needs_group_column(tmp_path):
    path = write_config(tmp_path, BASIC_CONFIG.replace("  id: patient", "  split: {method: group}"))
    with pytest.raises(ConfigError, match="needs data.group"):
        load_config(path)


def test_bad_name_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="name: string should match pattern"):
        load_config(write_config(tmp_path, BASIC_CONFIG.replace("name: demo", "name: ../evil")))


DEEP = 10_000


@pytest.mark.parametrize(
    "value",
    ["[" * DEEP + "]" * DEEP, "{a: " * DEEP + "1" + "}" * DEEP],
    ids=["flow-lists", "flow-mappings"],
)
def test_deep_nesting_is_a_config_error_at_its_line(tmp_path, value):
    path = write_config(tmp_path, BASIC_CONFIG + "extra: " + value + "\n")
    with pytest.raises(ConfigError, match=r"nested more than 50 levels deep") as info:
        load_config(path)
    assert info.value.where == f"{path}:{BASIC_CONFIG.count(chr(10))}"


def test_deep_block_nesting_is_a_config_error(tmp_path):
    block = "".join("  " * i + "a:\n" for i in range(300)) + "  " * 300 + "1\n"
    path = write_config(tmp_path, BASIC_CONFIG + block)
    with pytest.raises(ConfigError, match=r"nested more than 50 levels deep") as info:
        load_config(path)
    first = BASIC_CONFIG.count(chr(10))  # the line of the outermost "a:"
    assert info.value.where == f"{path}:{first + 49}"  # the "a:" whose value is level 51


def test_deep_override_is_a_short_config_error(tmp_path):
    item = "model.x=" + "[" * DEEP + "]" * DEEP
    with pytest.raises(ConfigError, match=r"nested more than 50 levels deep") as info:
        load_config(write_config(tmp_path, BASIC_CONFIG), [item])
    assert info.value.where.startswith("--set model.x=[[[") and len(info.value.where) < 100


def test_deep_nesting_exits_2_without_a_traceback(tmp_path):
    path = write_config(tmp_path, BASIC_CONFIG + "extra: " + "[" * DEEP + "]" * DEEP + "\n")
    for args in (
        ["preprocess", str(path)],
        [
            "preprocess",
            str(write_config(tmp_path, BASIC_CONFIG, "ok.yaml")),
            "--set",
            "a=" + "{a: " * DEEP + "1" + "}" * DEEP,
        ],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "nested more than 50 levels deep" in result.output
        assert "Traceback" not in result.output and "RecursionError" not in result.output


@pytest.mark.parametrize(
    ("key", "what"), [("[a, b]", "list"), ("{a: 1}", "mapping")], ids=["list", "mapping"]
)
def test_a_list_or_mapping_as_a_key_is_a_config_error(tmp_path, key, what):
    path = write_config(tmp_path, BASIC_CONFIG + f"? {key}\n: 1\n")
    with pytest.raises(ConfigError, match=rf"a key must be a plain name, not a {what}") as info:
        load_config(path)
    assert info.value.where == f"{path}:{BASIC_CONFIG.count(chr(10))}"
    nested = write_config(tmp_path, BASIC_CONFIG + f"tune:\n  {key}: 1\n", "nested.yaml")
    result = CliRunner().invoke(app, ["preprocess", str(nested)])
    assert result.exit_code == 2, result.output
    assert f"nested.yaml:{BASIC_CONFIG.count(chr(10)) + 1}" in result.output.replace("\n", "")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("seed", [-1, 2**31, 2**64])
def test_seed_out_of_range_is_a_config_error_at_its_line(tmp_path, seed):
    path = write_config(tmp_path, BASIC_CONFIG.replace("seed: 3", f"seed: {seed}"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (detail,) = info.value.details
    assert detail.startswith(f"{path}:2: seed: must be between 0 and 2147483647")
    assert f"Received: {seed}" in detail
    result = CliRunner().invoke(app, ["preprocess", str(path)])
    assert result.exit_code == 2, result.output


def test_seed_range_ends_are_valid(tmp_path):
    for seed in (0, 2**31 - 1):
        config = load_config(write_config(tmp_path, BASIC_CONFIG), [f"seed={seed}"])
        assert config.seed == seed
