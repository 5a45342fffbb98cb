"""End to end through the CLI: preprocess → train → evaluate → predict → runs, on tiny tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import BASIC_CONFIG, make_table, write_config

pytestmark = pytest.mark.slow

RUN_FILES = [
    "config.yaml",
    "command.txt",
    "environment.json",
    "dataset.json",
    "status.json",
    "history.csv",
    "checkpoints/best.keras",
    "model.keras",
    "preprocessing.json",
    "metrics.json",
    "predictions/test.csv",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished binary run shared by the read-only tests of this module."""
    root = tmp_path_factory.mktemp("trained")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("DLTRAIN_RUNS", str(root / "runs"))
    mp.setenv("DLTRAIN_CACHE", str(root / "data" / "processed"))
    make_table(n=120).to_csv(root / "table.csv", index=False)
    config = write_config(root, BASIC_CONFIG.replace("epochs: 2", "epochs: 30"))
    from typer.testing import CliRunner

    from dltrain.cli import app

    result = CliRunner().invoke(app, ["train", str(config), "--set", "train.batch_size=8"])
    assert result.exit_code == 0, result.output
    yield root, result
    mp.undo()


def test_train_writes_the_whole_run(trained):
    root, result = trained
    run = root / "runs" / "demo-1"
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    assert "Run demo-1" in result.output and "roc_auc" in result.output
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert not (run / ".lock").exists()
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["train"]["batch_size"] == 8  # the override is in the resolved config
    assert config["train"]["optimizer"] == {"name": "adam", "learning_rate": 0.001}
    assert "--set train.batch_size=8" in (run / "command.txt").read_text()
    env = json.loads((run / "environment.json").read_text())
    assert env["seed"] == 3 and env["tensorflow"] and env["keras"].startswith("3.")


def test_metrics_have_intervals_and_baselines(trained):
    root, _ = trained
    m = json.loads((root / "runs" / "demo-1" / "metrics.json").read_text())
    assert m["task"] == "binary" and m["positive_class"] == "sick"
    for split in ("val", "test"):
        assert set(m[split]) == {
            "accuracy",
            "balanced_accuracy",
            "roc_auc",
            "pr_auc",
            "f1",
            "sensitivity",
            "specificity",
            "ppv",
            "npv",
            "brier",
            "calibration_intercept",
            "calibration_slope",
            "ece",
        }
        for name, v in m[split].items():
            if v["value"] is not None:  # the slope is undefined when the outcome is separated
                assert v["low"] <= v["value"] <= v["high"], name
    assert m["operating_point"] == {
        "rule": "fixed",
        "chosen_on": "config",
        "value": 0.5,
        "val_sensitivity": m["operating_point"]["val_sensitivity"],
        "val_specificity": m["operating_point"]["val_specificity"],
    }
    assert m["test"]["roc_auc"]["value"] > 0.8  # the table is learnable
    assert m["baselines"]["majority"]["roc_auc"]["value"] == 0.5
    assert list(m["baselines"]) == ["majority", "logistic", "gradient_boosting"]
    decided = m["baseline_decisions"]["majority"]  # the paired bootstrap on test roc_auc
    assert decided["metric"] == "roc_auc" and decided["decision"] == "better"
    assert decided["low"] > 0 and decided["baseline"] == 0.5
    assert set(m["baseline_decisions_val"]) == set(m["baselines"])
    assert m["baseline_details"]["logistic"]["tuned"]["C"] > 0
    assert m["recalibration"] is None
    assert m["n"]["train"] + m["n"]["val"] + m["n"]["test"] == 120


def test_history_and_predictions(trained):
    root, _ = trained
    run = root / "runs" / "demo-1"
    history = pd.read_csv(run / "history.csv")
    assert {"epoch", "loss", "val_loss", "val_auc"} <= set(history.columns)
    preds = pd.read_csv(run / "predictions" / "test.csv")
    m = json.loads((run / "metrics.json").read_text())
    assert len(preds) == m["n"]["test"]
    assert list(preds.columns) == ["id", "row", "true", "predicted", "prob_healthy", "prob_sick"]
    assert np.allclose(preds.prob_healthy + preds.prob_sick, 1, atol=1e-5)
    assert preds.id.str.startswith("s").all()  # data.id is carried, not a feature
    accuracy = (preds.true == preds.predicted).mean()
    assert accuracy == pytest.approx(m["test"]["accuracy"]["value"], abs=1e-6)


def test_no_test_row_in_training(trained):
    root, _ = trained
    rows = json.loads((root / "runs" / "demo-1" / "dataset.json").read_text())["rows"]
    assert not set(rows["test"]) & (set(rows["train"]) | set(rows["val"]))
    assert not set(rows["val"]) & set(rows["train"])


def test_evaluate_recomputes_the_test_metrics(trained, cli):
    root, _ = trained
    result = cli("evaluate", "demo-1")
    assert result.exit_code == 0, result.output
    m = json.loads((root / "runs" / "demo-1" / "metrics.json").read_text())
    again = json.loads((root / "runs" / "demo-1" / "evaluations" / "test.json").read_text())
    assert again["test"] == m["test"]


def test_evaluate_external_data(trained, cli, tmp_path):
    external = tmp_path / "external.csv"
    make_table(n=40, seed=9).to_csv(external, index=False)
    result = cli("evaluate", "demo-1", "--data", external)
    assert result.exit_code == 0, result.output
    assert "external.csv" in result.output and "roc_auc" in result.output


def test_evaluate_external_without_target_points_to_predict(trained, cli, tmp_path):
    external = tmp_path / "unlabelled.csv"
    make_table(n=10).drop(columns="outcome").to_csv(external, index=False)
    result = cli("evaluate", "demo-1", "--data", external)
    assert result.exit_code == 3
    assert "has no 'outcome' column" in result.output and "dltrain predict" in result.output


def test_evaluate_refuses_changed_source(trained, cli):
    root, _ = trained
    source = root / "table.csv"
    original = source.read_bytes()
    try:
        source.write_bytes(original.replace(b"\n", b"\r\n", 3))
        result = cli("evaluate", "demo-1")
        assert result.exit_code == 3
        assert "has changed since run demo-1 was trained" in result.output
    finally:
        source.write_bytes(original)


def test_predict_writes_probabilities(trained, cli, tmp_path):
    new = tmp_path / "new.csv"
    frame = make_table(n=12, seed=5).drop(columns="outcome")
    frame.loc[0, "sex"] = "unknown"
    frame.to_csv(new, index=False)
    out = tmp_path / "pred.csv"
    result = cli("predict", "demo-1", new, "--out", out)
    assert result.exit_code == 0, result.output
    assert "category not seen in training" in result.output
    preds = pd.read_csv(out)
    columns = ["id", "row", "predicted", "prob_healthy", "prob_sick", "threshold"]
    assert list(preds.columns) == columns
    assert len(preds) == 12 and preds.id.tolist() == frame.patient.tolist()
    assert set(preds.predicted) <= {"healthy", "sick"}
    frozen = json.loads((trained[0] / "runs/demo-1/metrics.json").read_text())["threshold"]
    assert (preds.threshold == frozen).all()
    assert ((preds.prob_sick >= frozen) == (preds.predicted == "sick")).all()


def test_predict_input_missing_a_column(trained, cli, tmp_path):
    new = tmp_path / "new.csv"
    make_table(n=5).drop(columns=["marker"]).to_csv(new, index=False)
    result = cli("predict", "demo-1", new, "--out", tmp_path / "p.csv")
    assert result.exit_code == 3
    assert "lacks column(s) the model was trained on: marker" in result.output
    assert not (tmp_path / "p.csv").exists()


def test_predict_refuses_to_overwrite_its_input(trained, cli, tmp_path):
    new = tmp_path / "new.csv"
    make_table(n=5).to_csv(new, index=False)
    result = cli("predict", "demo-1", new, "--out", new)
    assert result.exit_code == 2 and "is the input file" in result.output


def test_runs_lists_the_run(trained, cli):
    result = cli("runs")
    assert result.exit_code == 0
    assert "demo-1" in result.output and "completed" in result.output


def test_unknown_run_id_suggests(trained, cli):
    result = cli("evaluate", "demo-7")
    assert result.exit_code == 2
    assert "no run 'demo-7'" in result.output and "Did you mean demo-1" in result.output


def test_run_id_escaping_runs_is_refused(trained, cli):
    result = cli("evaluate", "../demo-1")
    assert result.exit_code == 2 and "letters, digits" in result.output
