"""`dltrain tune`: a study of tiny trials in-process (SQLite in runs/<study>/).

Trials are 1-epoch, 4-unit MLPs on 90 rows with the sanity suite off; every study here
has 2-3 trials. The two-worker PostgreSQL study is in test_tune_postgres.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import make_table, write_config

CONFIG = """
name: demo
seed: 3
data:
  kind: tabular
  path: table.csv
  target: outcome
  id: patient
model:
  architecture: mlp
  hidden_units: [4]
train:
  epochs: 1
  batch_size: 16
  sanity: false
evaluate:
  bootstrap: 20
tune:
  trials: 2
  pruner: {name: none}
  space:
    train.optimizer.learning_rate: {log_uniform: [1.0e-3, 1.0e-1]}
    model.hidden_units: {categorical: [[4], [6, 4]]}
"""


@pytest.fixture
def experiment(workdir):
    make_table().to_csv(workdir / "table.csv", index=False)
    return write_config(workdir, CONFIG)


def _ok(result):
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def _study(workdir: Path, name: str = "demo"):
    import optuna

    return optuna.load_study(
        study_name=name, storage=f"sqlite:///{workdir / 'runs' / name / 'study.db'}"
    )


def _link(run_dir: Path) -> dict:
    return json.loads((run_dir / "study.json").read_text())


@pytest.mark.slow
def test_study_trials_best_yaml_final_run_and_resume(experiment, workdir, cli):
    result = _ok(cli("tune", experiment))
    study = _study(workdir)
    trials = study.get_trials()
    assert [t.number for t in trials] == [0, 1]
    assert {t.state.name for t in trials} == {"COMPLETE"}
    for t in trials:  # a trial is a normal run, linked to the study, that never saw test
        (run_id,) = t.user_attrs["runs"]
        run = workdir / "runs" / run_id
        assert run_id == f"demo-trial{t.number}"
        assert _link(run)["study"] == "demo" and _link(run)["trial"] == t.number
        assert _link(run)["value"] == pytest.approx(t.value)
        assert (run / "config.yaml").is_file() and (run / "history.csv").is_file()
        assert json.loads((run / "status.json").read_text())["status"] == "completed"
        assert not (run / "metrics.json").exists() and not (run / "predictions").exists()
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert config["model"]["hidden_units"] == json.loads(t.params["model.hidden_units"])
    folder = workdir / "runs" / "demo"
    best = study.best_trial
    best_yaml = yaml.safe_load((folder / "best.yaml").read_text())
    lr = best_yaml["train"]["optimizer"]["learning_rate"]
    assert lr == pytest.approx(best.params["train.optimizer.learning_rate"])
    assert Path(best_yaml["data"]["path"]).is_absolute()
    assert (folder / "tuning_optimisation_history.png").stat().st_size > 1000
    assert (folder / "tuning_parameter_importances.png").stat().st_size > 1000
    assert f"Best trial {best.number}" in result.output
    # the final step: the best config as a normal run, tested once
    final = workdir / "runs" / "demo-1"
    assert _link(final) == {
        "study": "demo", "role": "final", "best_trial": best.number, "value": best.value
    }  # fmt: skip
    assert json.loads((final / "metrics.json").read_text())["test"]
    assert (final / "plots" / "tuning_optimisation_history.png").is_file()
    assert "tuning optimisation history" in (final / "report.html").read_text()

    listed = _ok(cli("runs", "--study", "demo")).output
    assert "demo-trial0" in listed and "demo-trial1" in listed and "demo-1" in listed
    for command in ("resume", "evaluate"):  # a trial run is never scored on test
        refused = cli(command, "demo-trial0")
        assert refused.exit_code == 2 and "is trial 0 of study 'demo'" in refused.output

    # re-running continues the study: one more trial up to --trials 3
    _ok(cli("tune", experiment, "--trials", "3", "--set", "tune.final=none"))
    trials = _study(workdir).get_trials()
    assert [t.number for t in trials] == [0, 1, 2]
    assert (workdir / "runs" / "demo-trial2").is_dir()
    assert not (workdir / "runs" / "demo-2").exists()
    assert len((folder / "trials.csv").read_text().strip().splitlines()) == 1 + 3


def test_lost_trial_is_failed_and_replaced(experiment, workdir, cli):
    """A trial left RUNNING by a killed worker is marked failed; a new trial replaces it."""
    _ok(cli("tune", experiment, "--set", "tune.final=none", "--set", "tune.trials=1"))
    study = _study(workdir)
    dead = subprocess.Popen(["true"])
    dead.wait()
    lost = study.ask()  # what a worker killed with SIGKILL leaves behind
    lost.set_user_attr("worker", {"host": socket.gethostname(), "pid": dead.pid})

    result = _ok(cli("tune", experiment, "--set", "tune.final=none", "--set", "tune.trials=1"))
    assert "left running by a worker that stopped" in result.output
    trials = _study(workdir).get_trials()
    states = [t.state.name for t in trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE"]
    assert "worker stopped" in trials[1].user_attrs["fail_reason"]
    assert (workdir / "runs" / "demo" / "best.yaml").is_file()


def test_bad_trial_is_pruned(experiment, workdir, cli):
    """Median pruning on per-epoch validation values: an earlier trial with val_loss 0 at
    every epoch makes any real trial worse than the median, so it stops after epoch 1."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    folder = workdir / "runs" / "demo"
    folder.mkdir(parents=True)
    study = optuna.create_study(
        study_name="demo", storage=f"sqlite:///{folder / 'study.db'}", direction="minimize"
    )
    study.set_user_attr("objective", {"metric": "val_loss", "direction": "minimize"})
    study.set_user_attr("target", 1)
    study.add_trial(
        optuna.trial.create_trial(
            params={"train.optimizer.learning_rate": 0.01, "model.hidden_units": "[4]"},
            distributions={
                "train.optimizer.learning_rate": FloatDistribution(1e-3, 1e-1, log=True),
                "model.hidden_units": CategoricalDistribution(["[4]", "[6, 4]"]),
            },
            value=0.0,
            intermediate_values={0: 0.0, 1: 0.0, 2: 0.0},
        )
    )
    pruner = ["--set", "tune.pruner={name: median, startup_trials: 1, warmup_epochs: 0}"]
    _ok(cli("tune", experiment, "--trials", "2", "--set", "train.epochs=3",
            "--set", "tune.final=none", *pruner))  # fmt: skip
    trial = _study(workdir).get_trials()[1]
    assert trial.state.name == "PRUNED"
    run = workdir / "runs" / "demo-trial1"
    assert json.loads((run / "status.json").read_text())["status"] == "pruned"
    assert len((run / "history.csv").read_text().strip().splitlines()) == 1 + 1  # 1 epoch


def test_k_fold_trial_uses_train_and_val_only(experiment, workdir, cli):
    _ok(cli("tune", experiment, "--set", "tune.cv={folds: 3}", "--set", "tune.trials=1",
            "--set", "tune.final=none"))  # fmt: skip
    (trial,) = _study(workdir).get_trials()
    cv = trial.user_attrs["cv"]
    assert len(cv["values"]) == 3 and cv["std"] >= 0
    assert trial.value == pytest.approx(sum(cv["values"]) / 3)
    folds = [json.loads((workdir / "runs" / r / "dataset.json").read_text())["rows"]
             for r in trial.user_attrs["runs"]]  # fmt: skip
    assert trial.user_attrs["runs"] == [f"demo-trial0-fold{i}" for i in (1, 2, 3)]
    from dltrain.config import load_config
    from dltrain.data.cache import preprocess

    base = preprocess(load_config(experiment)).manifest
    test_rows = {f["test"] == folds[0]["test"] for f in folds}
    assert test_rows == {True}  # the test split is the configured one, untouched
    vals = [set(f["val"]) for f in folds]
    pool = set(folds[0]["train"]) | vals[0]
    assert not pool & set(folds[0]["test"])
    assert set().union(*vals) == pool and sum(map(len, vals)) == len(pool)  # a partition
    assert len(pool) == base["split"]["train"]["rows"] + base["split"]["val"]["rows"]


def test_invalid_combination_is_a_failed_trial_with_the_reason(experiment, workdir, cli):
    result = cli("tune", experiment, "--set", "tune.space={model.dropout: {uniform: [1.0, 2.0]}}")
    assert result.exit_code == 2, result.output
    assert "no trial of study 'demo' completed" in result.output
    assert "model.dropout" in result.output and "tune trial 0" in result.output
    trials = _study(workdir).get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "FAIL"]
    assert "model.dropout" in trials[0].user_attrs["fail_reason"]
    assert not list((workdir / "runs").glob("demo-trial*"))  # rejected before any run


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (("model.hidden_units:", "model.hiden_units:"),
         ["exp.yaml:22", "unknown config path 'model.hiden_units'",
          "Did you mean 'model.hidden_units'?"]),
        (("model.hidden_units:", "data.split.val:"), ["exp.yaml:22", "cannot be tuned"]),
        (("pruner: {name: none}", "objective: {metric: val_rmse}"),
         ["tune.objective.metric 'val_rmse' is not measured for a binary task"]),
        (("space:", "space: {}\n  x:"), ["exp.yaml:21", "tune.x: unknown key 'x'"]),
    ],
)  # fmt: skip
def test_bad_tune_section(experiment, cli, edit, needles):
    experiment.write_text(experiment.read_text().replace(*edit))
    result = cli("tune", experiment)
    assert result.exit_code == 2, result.output
    for needle in needles:
        assert needle in result.output, (needle, result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("nonsense", "is not a database URL"),
        ("oracle://u@h/db", "unsupported database 'oracle'"),
        ("postgresql+psycopg://me:s3cret@127.0.0.1:9/db", "cannot open the study database"),
    ],
)
def test_bad_storage_url(experiment, workdir, cli, url, needle):
    result = cli("tune", experiment, "--storage", url)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output
    assert not list((workdir / "runs").glob("demo-*"))


def test_runs_of_unknown_study(workdir, cli):
    result = cli("runs", "--study", "nope")
    assert result.exit_code == 2 and "no runs of study 'nope'" in result.output


def test_interrupted_trial_is_failed_and_replaced(experiment, workdir, cli, monkeypatch):
    """Ctrl-C during a trial: exit 130, the trial FAIL with the reason, a ticket replaces it."""
    from dltrain.training import session

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(session, "_train_in", interrupted)
    result = cli("tune", experiment, "--set", "tune.final=none")
    assert result.exit_code == 130, result.output
    assert "stopped by Ctrl-C during trial 0" in result.output
    assert "continue the study with: dltrain tune" in result.output
    trials = _study(workdir).get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING", "WAITING"]
    assert trials[0].user_attrs["fail_reason"] == "stopped by Ctrl-C"
    assert trials[2].user_attrs["replaces"] == 0
    status = json.loads((workdir / "runs" / "demo-trial0" / "status.json").read_text())
    assert status["status"] == "interrupted"
