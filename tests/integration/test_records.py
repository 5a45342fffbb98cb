"""Records other tools read: TensorBoard events read back, why training stopped in every
file, `--json` on runs/evaluate/compare/check, and an MLflow run in a local store."""

from __future__ import annotations

import csv
import json
import os
import sys

import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config

pytestmark = pytest.mark.slow

EPOCHS = 4
CONFIG = BASIC_CONFIG.replace("epochs: 2", f"epochs: {EPOCHS}")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, cli):
    """A tiny finished binary run, demo-1, and a second one, demo-2, to compare with."""
    root = tmp_path_factory.mktemp("records")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("DLTRAIN_RUNS", str(root / "runs"))
    mp.setenv("DLTRAIN_CACHE", str(root / "cache"))
    make_table(n=90).to_csv(root / "table.csv", index=False)
    config = write_config(root, CONFIG)
    for _ in range(2):
        result = cli("train", config)
        assert result.exit_code == 0, result.output
    yield root
    mp.undo()


def _events(folder):
    """{tag: {step: value}} of every event file in `folder`, read back with TensorFlow."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    found: dict = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                found.setdefault(value.tag, {})[event.step] = tf.make_ndarray(value.tensor)
    return found


def test_tensorboard_events_hold_every_epoch_and_the_test_metrics(finished):
    logs = finished / "runs" / "demo-1" / "logs"
    train, val, test = (_events(logs / name) for name in ("train", "validation", "test"))
    with open(finished / "runs" / "demo-1" / "history.csv") as f:
        history = list(csv.DictReader(f))
    steps = list(range(1, len(history) + 1))
    assert sorted(train["epoch_loss"]) == steps and sorted(val["epoch_loss"]) == steps
    for step, row in zip(steps, history, strict=True):
        assert float(train["epoch_loss"][step]) == pytest.approx(float(row["loss"]), rel=1e-6)
        assert float(val["epoch_loss"][step]) == pytest.approx(float(row["val_loss"]), rel=1e-6)
    assert sorted(train["epoch_learning_rate"]) == steps
    metrics = json.loads((finished / "runs" / "demo-1" / "metrics.json").read_text())
    auc = metrics["test"]["roc_auc"]
    (kept,) = test["test/roc_auc"]
    assert kept == metrics["stopping"]["best_epoch"]
    for suffix, key in (("", "value"), ("_low", "low"), ("_high", "high")):
        assert float(test[f"test/roc_auc{suffix}"][kept]) == pytest.approx(auc[key], rel=1e-6)
    assert "baselines/majority/roc_auc" in test
    assert metrics["stopping"]["message"].encode() in test["stopping"].values()


def test_why_training_stopped_is_in_status_metrics_and_report(finished):
    run = finished / "runs" / "demo-1"
    status = json.loads((run / "status.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert status["stopping"] == metrics["stopping"]
    stop = metrics["stopping"]
    with open(run / "history.csv") as f:
        losses = [float(r["val_loss"]) for r in csv.DictReader(f)]
    assert stop["epochs"] == len(losses)
    assert stop["best_epoch"] == losses.index(min(losses)) + 1
    assert stop["reason"] in ("early_stopping", "epoch_limit")
    html = (run / "report.html").read_text(encoding="utf-8")
    first = stop["message"][0].upper() + stop["message"][1:]
    assert first in html


def test_json_output_for_scripts(finished, cli):
    listed = json.loads(cli("runs", "--json").stdout)
    assert [r["id"] for r in listed] == ["demo-2", "demo-1"]
    assert listed[0]["status"] == "completed" and listed[0]["headline"]["metric"] == "roc_auc"
    assert listed[0]["stopping"]["message"]
    evaluated = cli("evaluate", "demo-1", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads((finished / "runs" / "demo-1" / "metrics.json").read_text())
    result = json.loads(evaluated.stdout)
    assert result["test"]["roc_auc"]["value"] == pytest.approx(metrics["test"]["roc_auc"]["value"])
    compared = json.loads(cli("compare", "demo-1", "demo-2", "--bootstrap", "20", "--json").stdout)
    assert "roc_auc" in compared["metrics"] and compared["written"].endswith(".json")


def test_check_json_keeps_standard_output_for_json(finished, cli):
    result = cli("check", finished / "exp.yaml", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)  # progress and tables went to standard error
    assert found["data"]["task"] == "binary" and found["data"]["audit"]["warnings"] == []
    assert found["model"]["architecture"] == "mlp" and found["model"]["layers"]
    assert found["passed"] is True
    assert {c["name"] for c in found["sanity"]} >= {"initial_loss", "overfit_batch"}


def test_mlflow_logs_params_epochs_test_metrics_and_artifacts(finished, cli, tmp_path):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("the dev extra installs mlflow-skinny: CI must run this test")
        pytest.skip('needs the [mlflow] extra: pip install -e ".[mlflow]"')
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = ["--set", f"track.mlflow.uri={uri}", "--set", "name=tracked"]
    result = cli("train", finished / "exp.yaml", *overrides)
    assert result.exit_code == 0, result.output
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("tracked").experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "tracked-1"
    assert run.data.params["model.architecture"] == "mlp"
    assert run.data.params["train.epochs"] == str(EPOCHS)
    metrics = json.loads((finished / "runs" / "tracked-1" / "metrics.json").read_text())
    losses = client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in losses) == list(range(1, metrics["stopping"]["epochs"] + 1))
    auc = metrics["test"]["roc_auc"]
    for suffix, key in (("", "value"), ("_low", "low"), ("_high", "high")):
        assert run.data.metrics[f"test_roc_auc{suffix}"] == pytest.approx(auc[key])
    assert run.data.tags["dltrain.stopping"] == metrics["stopping"]["message"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "model.keras", "metrics.json", "plots"} <= artifacts


def test_mlflow_without_the_extra_is_a_config_error(finished, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # as if not installed
    result = cli("train", finished / "exp.yaml", "--set", "track.mlflow.uri=sqlite:///x.db",
                 "--set", "name=untracked")  # fmt: skip
    assert result.exit_code == 2
    assert 'pip install "dltrain[mlflow]"' in result.output
    assert "--set track.mlflow.uri=sqlite:///x.db" in result.output
    assert not (finished / "runs" / "untracked-1").exists()  # refused before a run exists
