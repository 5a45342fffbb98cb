"""`dltrain check` and the sanity suite recorded by `train`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import BASIC_CONFIG, SANITY_ON, make_table, write_config


def test_check_prints_data_model_and_verdicts(tabular_experiment, cli):
    result = cli("check", tabular_experiment)
    assert result.exit_code == 0, result.output
    out = result.output
    for needle in (
        "train",
        "val",
        "test",
        "healthy",
        "sick",
        "output shape",
        "dense_0",
        "(None, 8)",
        "(None, 1)",
        "initial_loss",
        "overfit_batch",
        "input_independent",
        "baseline_majority",
        "baseline_logistic",
        "PASS",
    ):
        assert needle in out, needle
    assert not (tabular_experiment.parent / "runs").exists()  # nothing lasting is trained


def test_check_fails_when_the_loss_cannot_go_down(tabular_experiment, cli):
    result = cli("check", tabular_experiment, "--set", "train.optimizer.learning_rate=1e-9")
    assert result.exit_code == 5, result.output
    assert "overfit_batch" in result.output and "FAIL" in result.output
    assert "Sanity check failed" in result.output and "Check the learning rate" in result.output


def test_check_reports_config_errors(tabular_experiment, cli):
    result = cli("check", tabular_experiment, "--set", "evaluate.metrics=[r2]")
    assert result.exit_code == 2
    assert "'r2' do not apply to a binary task" in result.output


@pytest.mark.slow
def test_train_records_the_suite_and_the_baseline_verdict(workdir, cli):
    make_table(n=120).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    result = cli("train", config, *SANITY_ON, "--set", "train.epochs=20")
    assert result.exit_code == 0, result.output
    assert "Sanity checks" in result.output
    checks = json.loads((workdir / "runs/demo-1/sanity.json").read_text())["checks"]
    names = [c["name"] for c in checks]
    assert names == [
        "initial_loss",
        "overfit_batch",
        "input_independent",
        "leaking_feature",
        "baseline_majority",
        "baseline_logistic",
        "baseline_gradient_boosting",
        "beats_baselines",
        "learned_from_inputs",
    ]
    by_name = {c["name"]: c for c in checks}
    assert by_name["initial_loss"]["verdict"] == "PASS"
    assert by_name["baseline_majority"]["value"] == 0.5
    assert by_name["beats_baselines"]["verdict"] in ("PASS", "WARN")
    assert "paired bootstrap" in by_name["beats_baselines"]["detail"]


def test_train_stops_before_fitting_on_a_failed_check(workdir, cli):
    make_table(n=60).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    result = cli("train", config, *SANITY_ON, "--set", "train.optimizer.learning_rate=1e-9")
    assert result.exit_code == 5
    run = workdir / "runs" / "demo-1"
    assert json.loads((run / "status.json").read_text())["status"] == "failed"
    assert not (run / "history.csv").exists() and not (run / "model.keras").exists()


def test_sanity_can_be_switched_off(workdir, cli):
    make_table(n=60).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    result = cli("train", config, "--set", "train.sanity=false")
    assert result.exit_code == 0, result.output
    assert not (workdir / "runs/demo-1/sanity.json").exists()


def test_a_restarted_model_is_the_fresh_model(tmp_path):
    # The suite builds one model and restores it before each check; that must equal a
    # freshly built seeded model, optimiser and dropout random state included.
    from types import SimpleNamespace

    import numpy as np

    from dltrain.config import load_config
    from dltrain.data.pipeline import make_dataset
    from dltrain.training import sanity

    cfg = load_config(
        write_config(tmp_path, BASIC_CONFIG),
        ["model.dropout=0.5", "train.optimizer={name: adam, learning_rate: 0.01}"],
    )
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 5)).astype("float32"), rng.integers(0, 2, 64).astype("float32")
    transform = SimpleNamespace(feature_names=[f"f{i}" for i in range(5)])

    def trained(fresh):
        model = fresh.restart()
        model.fit(make_dataset(x, y, 16, shuffle=True, seed=1), epochs=2, verbose=0, shuffle=False)
        return [v.numpy() for v in fresh._variables()]

    def build():
        return sanity.suite_model(cfg, "binary", 2, y, transform)

    reused = sanity.Fresh(build)
    first = trained(reused)
    assert int(reused.model.optimizer.iterations.numpy()) == 8
    again = trained(reused)  # restarted after training
    new = trained(sanity.Fresh(build))
    assert len(first) == len(again) == len(new) > 4
    for a, b, c in zip(first, again, new, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_a_second_check_reuses_the_cached_verdict(tabular_experiment, cli):
    first = cli("check", tabular_experiment)
    assert first.exit_code == 0 and "Cached" not in first.output
    again = cli("check", tabular_experiment)
    assert again.exit_code == 0 and "Cached" in again.output
    cached = sorted((tabular_experiment.parent / "data" / "processed").glob("*/sanity/*.json"))
    assert len(cached) == 1  # beside the processed data, not in runs/
    other_model = cli("check", tabular_experiment, "--set", "model.hidden_units=[4]")
    assert other_model.exit_code == 0 and "Cached" not in other_model.output
    table = tabular_experiment.parent / "table.csv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines[:-1]) + "\n")  # one patient fewer: other data
    other_data = cli("check", tabular_experiment)
    assert other_data.exit_code == 0 and "Cached" not in other_data.output


@pytest.mark.slow
def test_train_records_how_many_steps_each_check_used(workdir, cli):
    make_table(n=120).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    assert cli("train", config, *SANITY_ON).exit_code == 0
    checks = {
        c["name"]: c
        for c in json.loads((workdir / "runs/demo-1/sanity.json").read_text())["checks"]
    }
    for name in ("overfit_batch", "input_independent"):
        assert (
            checks[name]["steps"] > 0 and f"{checks[name]['steps']} steps" in checks[name]["detail"]
        )
        assert "budget" in checks[name]["detail"]
    assert checks["initial_loss"]["steps"] is None and not checks["initial_loss"]["cached"]
    rerun = cli(
        "train", config, *SANITY_ON
    )  # same model, data, seed and settings: the verdicts are reused
    assert rerun.exit_code == 0
    second = json.loads((workdir / "runs/demo-2/sanity.json").read_text())["checks"]
    assert all(
        c["cached"] for c in second if c["name"] not in ("beats_baselines", "learned_from_inputs")
    )


@pytest.mark.slow
def test_training_is_the_same_with_and_without_the_suite(workdir, cli, monkeypatch):
    # the suite runs on the run's own model (traced once) and restores it before training
    from dltrain.training.session import Session

    built = []
    original = Session.model
    monkeypatch.setattr(Session, "model", lambda self, *a: built.append(1) or original(self, *a))
    make_table(n=120).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    settings = [*SANITY_ON, "--set", "train.epochs=3", "--set", "model.dropout=0.3"]
    assert cli("train", config, *settings).exit_code == 0
    assert len(built) == 1  # one model for the suite and training
    assert cli("train", config, *settings, "--set", "train.sanity=false").exit_code == 0
    runs = workdir / "runs"
    assert (runs / "demo-1/history.csv").read_text() == (runs / "demo-2/history.csv").read_text()
    metrics = [json.loads((runs / f"demo-{i}/metrics.json").read_text())["test"] for i in (1, 2)]
    assert metrics[0] == metrics[1]
    from dltrain.evaluation.predict import load_model

    weights = [load_model(runs / f"demo-{i}/model.keras").get_weights() for i in (1, 2)]
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)
