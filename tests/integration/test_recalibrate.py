"""`evaluate.recalibrate` end to end: fitted on validation at training time, then applied
unchanged by evaluate, predict and export, and written into the run and its manifest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dltrain.evaluation.metrics.calibration import logit
from tests.conftest import BASIC_CONFIG, make_table, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recalibrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("recalibrated")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("DLTRAIN_RUNS", str(root / "runs"))
    mp.setenv("DLTRAIN_CACHE", str(root / "data" / "processed"))
    make_table(n=120).to_csv(root / "table.csv", index=False)
    config = write_config(root, BASIC_CONFIG + "  recalibrate: platt\n")
    from typer.testing import CliRunner

    from dltrain.cli import app

    result = CliRunner().invoke(app, ["train", str(config), "--set", "train.epochs=5"])
    assert result.exit_code == 0, result.output
    yield root
    mp.undo()


def test_the_map_is_fitted_on_validation_stored_and_checksummed(recalibrated):
    run = recalibrated / "runs" / "demo-1"
    stored = json.loads((run / "calibration.json").read_text())
    assert stored["method"] == "platt" and stored["fitted_on"] == "val"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["recalibration"] == stored and stored["n"] == metrics["n"]["val"]
    assert "calibration.json" in json.loads((run / "manifest.json").read_text())["files"]


def test_predict_and_evaluate_apply_the_stored_map(recalibrated, cli, tmp_path):
    """Predicting the test rows again gives the test predictions written at training time
    (recalibrated), and evaluate reproduces the test metrics."""
    run = recalibrated / "runs" / "demo-1"
    rows = json.loads((run / "dataset.json").read_text())["rows"]["test"]
    table = pd.read_csv(recalibrated / "table.csv").iloc[rows]
    table.drop(columns="outcome").to_csv(tmp_path / "new.csv", index=False)
    result = cli("predict", "demo-1", tmp_path / "new.csv", "--out", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    again = pd.read_csv(tmp_path / "p.csv")
    written = pd.read_csv(run / "predictions" / "test.csv").sort_values("row")
    assert np.allclose(again["prob_sick"].to_numpy(), written["prob_sick"].to_numpy(), atol=1e-6)
    assert cli("evaluate", "demo-1").exit_code == 0
    evaluated = json.loads((run / "evaluations" / "test.json").read_text())
    assert evaluated["test"] == json.loads((run / "metrics.json").read_text())["test"]


def test_the_recalibrated_probability_is_the_map_of_the_model_output(recalibrated):
    from dltrain.evaluation.predict import load_model, model_scores

    run = recalibrated / "runs" / "demo-1"
    stored = json.loads((run / "calibration.json").read_text())
    x = np.zeros((1, len(json.loads((run / "dataset.json").read_text())["features"])), "float32")
    raw = model_scores(load_model(run / "model.keras"), x)
    expected = 1 / (1 + np.exp(-(stored["slope"] * logit(raw) + stored["intercept"])))
    from dltrain.evaluation.evaluate import FinishedRun

    assert np.allclose(FinishedRun("demo-1").scores(x), expected)


def test_export_carries_the_map_as_a_sidecar(recalibrated, cli):
    result = cli("export", "demo-1", "--format", "keras")
    assert result.exit_code == 0, result.output
    folder = recalibrated / "runs" / "demo-1" / "exports" / "keras"
    manifest = json.loads((folder / "export.json").read_text())
    assert manifest["after_the_model"]["file"] == "calibration.json"
    assert manifest["after_the_model"]["map"]["method"] == "platt"
    assert (folder / "calibration.json").is_file()
    assert (
        "After the model (sidecar `calibration.json`): Platt scaling"
        in (folder / "README.md").read_text()
    )


def test_a_damaged_map_is_refused_by_predict(recalibrated, cli, tmp_path):
    path = recalibrated / "runs" / "demo-1" / "calibration.json"
    original = path.read_bytes()
    try:
        path.write_bytes(original.replace(b'"platt"', b'"platt" ', 1))
        make_table(n=5).drop(columns="outcome").to_csv(tmp_path / "new.csv", index=False)
        result = cli("predict", "demo-1", tmp_path / "new.csv", "--out", tmp_path / "p.csv")
        assert result.exit_code == 4 and "calibration.json is damaged" in result.output
    finally:
        path.write_bytes(original)
