"""`tune.final: train+val`: the best config trained on train and val together for the epochs
and with the threshold its trial chose on validation, then tested once; such a run resumes
exactly. Also the other defaults of issue 16 end to end: `mlp` on signals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dltrain.config import load_config
from dltrain.errors import InterruptedRun
from dltrain.training import loop, session
from dltrain.training.refit import Refit
from tests.conftest import BASIC_CONFIG, make_table, write_config

CONFIG = """
name: demo
seed: 3
data: {kind: tabular, path: table.csv, target: outcome, id: patient}
model: {architecture: mlp, hidden_units: [4]}
train: {epochs: 2, batch_size: 16, sanity: false}
evaluate: {bootstrap: 20, threshold: {rule: youden}}
tune:
  trials: 2
  final: train+val
  pruner: {name: none}
  space:
    train.optimizer.learning_rate: {log_uniform: [1.0e-3, 1.0e-1]}
"""


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_final_run_trains_on_train_and_val_for_the_chosen_epochs(workdir, cli):
    import optuna

    make_table().to_csv(workdir / "table.csv", index=False)
    result = cli("tune", write_config(workdir, CONFIG))
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="demo", storage="sqlite:///runs/demo/study.db")
    best = study.best_trial
    (epochs,) = best.user_attrs["best_epochs"]
    trial_run = workdir / "runs" / f"demo-trial{best.number}"
    assert _json(trial_run / "study.json")["best_epoch"] == epochs
    final = workdir / "runs" / "demo-1"
    refit = _json(final / "refit.json")
    assert (
        refit["epochs"] == epochs and refit["chosen_by"] == f"trial {best.number} of study 'demo'"
    )
    assert refit["operating_point"]["rule"] == "youden"
    assert refit["operating_point"]["chosen_on"] == "val"
    config = yaml.safe_load((final / "config.yaml").read_text())
    assert config["train"]["epochs"] == epochs and config["train"]["early_stopping"] is None
    assert config["evaluate"]["threshold"] == {"rule": "fixed", "value": refit["threshold"]}
    metrics = _json(final / "metrics.json")
    assert metrics["threshold"] == refit["threshold"] and metrics["test"]
    assert metrics["refit"]["summary"].startswith(f"trained on train+val for {epochs} epoch")
    history = pd.read_csv(final / "history.csv")  # every epoch, nothing validated
    assert len(history) == epochs and not [c for c in history if c.startswith("val_")]
    trained = _json(trial_run / "dataset.json")["rows"]
    assert _json(final / "dataset.json")["rows"]["train"] == sorted(
        trained["train"] + trained["val"]
    )
    assert _json(final / "dataset.json")["rows"]["test"] == trained["test"]
    assert _json(final / "study.json")["trained_on"] == ["train", "val"]
    assert (final / "report.html").is_file()


def test_a_train_val_run_resumes_from_its_checkpoint(workdir, cli, monkeypatch):
    make_table(n=120).to_csv(workdir / "table.csv", index=False)
    text = BASIC_CONFIG.replace("  epochs: 2\n", "  epochs: 2\n  early_stopping: null\n")
    text = text.replace("evaluate:\n", "evaluate:\n  threshold: {rule: fixed, value: 0.4}\n")
    config = load_config(write_config(workdir, text))
    chosen = Refit(2, "trial 0 of study 'x'", "its best validation epoch", 0.4)
    save_state = loop._Loop.save_state

    def stop_after_the_first_epoch(self):
        save_state(self)
        if (self.state.epoch, self.state.step) == (1, 0):
            raise KeyboardInterrupt

    monkeypatch.setattr(loop._Loop, "save_state", stop_after_the_first_epoch)
    with pytest.raises(InterruptedRun):
        session.train_on_train_val(config, ["train"], chosen)
    monkeypatch.setattr(loop._Loop, "save_state", save_state)  # (undo() would leave workdir)
    run = workdir / "runs" / "demo-1"
    first_epoch = (run / "history.csv").read_text()
    assert _json(run / "status.json")["status"] == "interrupted"
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    assert "from state-000001-000000.npz: epoch 2" in resumed.output.replace("\n", "")
    history = (run / "history.csv").read_text()
    assert history.startswith(first_epoch) and len(history.splitlines()) == 3
    assert "val_" not in history.splitlines()[0]
    metrics = _json(run / "metrics.json")
    assert metrics["refit"] == chosen.as_json() and metrics["threshold"] == 0.4
    assert len(_json(run / "dataset.json")["rows"]["train"]) == 102  # train + val


def test_mlp_on_signals(workdir, cli):
    rng = np.random.default_rng(0)
    labels = np.array(["slow", "fast"])[np.arange(40) % 2]
    t = np.linspace(0, 1, 24)
    wave = np.sin(2 * np.pi * np.where(labels == "slow", 2.0, 6.0)[:, None] * t)
    np.save(workdir / "x.npy", (wave[..., None] + 0.1 * rng.normal(size=(40, 24, 2))))
    pd.DataFrame({"id": np.arange(40), "label": labels}).to_csv(workdir / "y.csv", index=False)
    config = write_config(
        workdir,
        """
        name: sig
        data: {kind: signals, path: x.npy, labels: y.csv}
        model: {architecture: mlp, hidden_units: [8], dropout: 0.1}
        train: {epochs: 1, batch_size: 8, sanity: false}
        evaluate: {bootstrap: 20}
        """,
    )
    result = cli("train", config)
    assert result.exit_code == 0, result.output
    assert _json(workdir / "runs" / "sig-1" / "metrics.json")["test"]
