"""Every task and split method trains end to end; the bundled examples run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import BASIC_CONFIG, REPO, make_table, write_config
from tests.integration.test_fresh_process import CASES as FRESH_CASES


def _metrics(workdir, run_id):
    return json.loads((workdir / "runs" / run_id / "metrics.json").read_text())


def test_multiclass(workdir, cli):
    make_table(n=150, task="multiclass").to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    result = cli("train", config, "--set", "train.epochs=3")
    assert result.exit_code == 0, result.output
    m = _metrics(workdir, "demo-1")
    assert m["task"] == "multiclass" and m["classes"] == ["high", "low", "mid"]
    assert m["threshold"] is None
    assert set(m["per_class"]["test"]) == {"high", "low", "mid"}
    assert np.array(m["confusion"]["test"]).sum() == m["n"]["test"]
    assert set(m["baselines"]) == {"majority", "logistic", "gradient_boosting"}
    assert set(m["baseline_decisions"]) == set(m["baselines"])
    assert "ece" in m["test"] and "calibration_slope" not in m["test"]  # binary only


@pytest.mark.slow
def test_regression_in_target_units(workdir, cli):
    make_table(n=120, task="regression").to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    result = cli(
        "train",
        config,
        "--set",
        "train.epochs=40",
        "--set",
        "train.optimizer.learning_rate=0.01",
        "--set",
        "train.early_stopping.monitor=val_mae",
    )
    assert result.exit_code == 0, result.output
    m = _metrics(workdir, "demo-1")
    assert set(m["test"]) == {"mae", "rmse", "r2", "bias", "loa_low", "loa_high"}
    assert (
        m["test"]["loa_low"]["value"] < m["test"]["bias"]["value"] < m["test"]["loa_high"]["value"]
    )
    assert m["test"]["r2"]["value"] > 0.5
    assert m["baselines"]["mean"]["r2"]["value"] < 0.1
    # the target's scale is restored: an MAE in the table's own units (target std ≈ 3.6)
    assert 0 < m["test"]["mae"]["value"] < 3


def test_monitor_not_measured_for_task_is_a_config_error(workdir, cli):
    make_table(n=60, task="regression").to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    result = cli("train", config, "--set", "train.early_stopping.monitor=val_auc")
    assert result.exit_code == 2
    assert "'val_auc' is not measured for a regression task" in result.output
    assert "--set train.early_stopping.monitor=val_auc" in result.output
    assert not (workdir / "runs").exists() or not list((workdir / "runs").iterdir())


def test_group_split_keeps_patients_whole(workdir, cli):
    make_table(n=120, groups=30).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG.replace("  id: patient", "  group: patient"))
    result = cli("train", config, "--set", "data.split.method=group")
    assert result.exit_code == 0, result.output
    run = workdir / "runs" / "demo-1"
    rows = json.loads((run / "dataset.json").read_text())["rows"]
    table = make_table(n=120, groups=30)
    owners = {s: set(table.patient.iloc[rows[s]]) for s in ("train", "val", "test")}
    assert not owners["train"] & owners["val"] and not owners["train"] & owners["test"]
    assert not owners["val"] & owners["test"]
    warnings = json.loads((run / "metrics.json").read_text())["warnings"]
    assert any(w.startswith("test: the split has only") for w in warnings)
    assert "unreliable with fewer than 10" in result.output.replace("\n", " ")
    assert "unreliable with fewer than 10" in (run / "report.html").read_text()


def test_column_split_missing_values_and_parquet(workdir, cli):
    table = make_table(n=100, missing=True)
    table["fold"] = np.where(
        np.arange(100) % 5 == 0, "test", np.where(np.arange(100) % 5 == 1, "val", "train")
    )
    table.to_parquet(workdir / "table.parquet")
    config = write_config(workdir, BASIC_CONFIG.replace("table.csv", "table.parquet"))
    result = cli(
        "train",
        config,
        "--set",
        "data.split={method: column, column: fold}",
        "--set",
        "train.class_weight=balanced",
    )
    assert result.exit_code == 0, result.output
    run = workdir / "runs" / "demo-1"
    prep = json.loads((run / "preprocessing.json").read_text())
    assert prep["indicator"] == ["marker"]
    assert "fold" not in prep["numeric"] + prep["categorical"]
    rows = json.loads((run / "dataset.json").read_text())["rows"]
    assert rows["test"] == list(range(0, 100, 5))


@pytest.mark.slow
def test_same_seed_same_result(workdir, cli):
    make_table(n=80).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    for _ in range(2):
        assert cli("train", config, "--set", "model.dropout=0.2").exit_code == 0
    a, b = (_metrics(workdir, f"demo-{i}") for i in (1, 2))
    assert a["test"] == b["test"] and a["val"] == b["val"]
    import keras

    wa = keras.saving.load_model(workdir / "runs/demo-1/model.keras").get_weights()
    wb = keras.saving.load_model(workdir / "runs/demo-2/model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))


def test_name_option_names_the_run(workdir, cli):
    make_table(n=60).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    result = cli("train", config, "--name", "short", "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    assert (workdir / "runs" / "short-1" / "model.keras").exists()


@pytest.mark.parametrize(
    ("per_call", "place"), [(1, "epoch 1, step 6"), (4, "epoch 1, in steps 5-8")]
)
def test_divergence_exits_5_and_keeps_the_last_finite_checkpoint(workdir, cli, per_call, place):
    frame = make_table(n=200, task="regression")
    # one extreme value, unscaled: its batch (epoch 1, step 6 in this seeded order) overflows
    frame.loc[150, "age"] = 1e25
    frame.to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    result = cli(
        "train",
        config,
        "--set",
        "data.scale=none",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.checkpoint_every=2",
        "--set",
        "train.sanity=false",  # the sanity suite would stop it first (test_check.py)
        "--set",
        f"train.steps_per_execution={per_call}",  # 4: the loss is read every 4 steps
    )
    assert result.exit_code == 5, result.output
    text = result.output.replace("\n", "")
    assert f"NaN or infinite at {place}" in text
    assert "The last finite checkpoint is runs/demo-1/checkpoints/state-000000-000004.npz" in text
    run = workdir / "runs" / "demo-1"
    assert json.loads((run / "status.json").read_text())["status"] == "diverged"
    assert not (run / "model.keras").exists() and not (run / "checkpoints/best.keras").exists()
    with np.load(run / "checkpoints/state-000000-000004.npz") as kept:
        assert all(np.isfinite(kept[k]).all() for k in kept.files if k.startswith("v"))
    again = cli("resume", "demo-1")
    assert again.exit_code == 5 and "resuming would repeat it" in again.output


# the others are trained (sanity suite on) and used from new processes in test_fresh_process
IN_THE_MATRIX = {Path(c).name for c, _, _ in FRESH_CASES.values()}


@pytest.mark.slow
@pytest.mark.parametrize(
    "config",
    sorted(p.name for p in (REPO / "configs").glob("*.yaml") if p.name not in IN_THE_MATRIX),
)
def test_bundled_example_configs_run(workdir, cli, config):
    shutil.copytree(REPO / "data", workdir / "data", ignore=shutil.ignore_patterns("processed"))
    result = cli(
        "train",
        REPO / "configs" / config,
        "--set",
        "train.epochs=2",
        "--set",
        "evaluate.bootstrap=50",
    )
    assert result.exit_code == 0, result.output
    assert "Run folder" in result.output


def test_threshold_is_chosen_on_validation_and_frozen_for_test(workdir, cli):
    make_table(n=160).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    result = cli(
        "train",
        config,
        "--set",
        "evaluate.threshold={rule: sensitivity, target: 0.95}",
        "--set",
        "train.epochs=15",
    )
    assert result.exit_code == 0, result.output
    run = workdir / "runs" / "demo-1"
    m = _metrics(workdir, "demo-1")
    op = m["operating_point"]
    assert op["rule"] == "sensitivity" and op["chosen_on"] == "val" and op["target"] == 0.95
    assert op["val_sensitivity"] >= 0.95
    assert m["threshold"] == op["value"]
    import pandas as pd

    for split in ("val", "test"):
        preds = pd.read_csv(run / "predictions" / f"{split}.csv")
        expected = np.where(preds.prob_sick >= op["value"], "sick", "healthy")
        assert (preds.predicted == expected).all()
    val = pd.read_csv(run / "predictions" / "val.csv")
    sick = val[val.true == "sick"]
    assert (sick.predicted == "sick").mean() == pytest.approx(op["val_sensitivity"], abs=1e-6)
