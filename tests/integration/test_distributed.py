"""Distributed training for real on CPU: two worker processes, and two mirrored replicas.

Both must train the same model as a single-device run of the same experiment. They
cannot match bit for bit: each step's gradient is the average of per-replica means
over half-batches, all-reduced, instead of one mean over the batch, so float32 sums
run in another order (about 1e-7 relative per step). With a batch size that both
replicas share evenly (84 training rows, batch 16: five 8+8 steps and a 2+2 one),
the difference stays within TOLERANCE on every weight and every history value.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config

TOLERANCE = 1e-5  # absolute, on weights and on every history.csv value
SETTINGS = ["--set", "train.sanity=false", "--set", "train.early_stopping=null"]
SPLIT_CPU = (
    "import sys, tensorflow as tf; "
    "cpu = tf.config.list_physical_devices('CPU')[0]; "
    "two = [tf.config.LogicalDeviceConfiguration()] * 2; "
    "tf.config.set_logical_device_configuration(cpu, two); "
    "from dltrain.cli import main; sys.argv[0] = 'dltrain'; main()"
)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _history(run: Path) -> list[dict]:
    with open(run / "history.csv") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _max_differences(run: Path, reference: Path) -> tuple[float, float]:
    """(largest weight difference, largest history difference) between two runs."""
    from dltrain.evaluation.predict import load_model

    a, b = load_model(run / "model.keras"), load_model(reference / "model.keras")
    weights = max(
        float(np.max(np.abs(x - y))) for x, y in zip(a.get_weights(), b.get_weights(), strict=True)
    )
    ha, hb = _history(run), _history(reference)
    assert [row.keys() for row in ha] == [row.keys() for row in hb]
    history = max(abs(ra[k] - rb[k]) for ra, rb in zip(ha, hb, strict=True) for k in ra)
    return weights, history


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The experiment folder and its single-device run (in-process: TensorFlow is loaded)."""
    from typer.testing import CliRunner

    from dltrain.cli import app

    root = tmp_path_factory.mktemp("distributed")
    make_table(n=120).to_csv(root / "table.csv", index=False)
    config = write_config(root, BASIC_CONFIG)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("DLTRAIN_RUNS", raising=False)
        mp.delenv("DLTRAIN_CACHE", raising=False)
        mp.delenv("TF_CONFIG", raising=False)
        result = CliRunner().invoke(
            app, ["train", str(config), *SETTINGS, "--name", "single"], catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    return root, config, root / "runs" / "single-1"


def _env(root: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "DLTRAIN_CACHE")}
    (root / "tmp").mkdir(exist_ok=True)
    return {**env, "DLTRAIN_RUNS": str(root / "runs"), "TMPDIR": str(root / "tmp"), **extra}


@pytest.mark.slow
def test_two_workers_match_a_single_worker_run(reference):
    root, config, single = reference
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dltrain", "train", str(config), *SETTINGS]
                + ["--set", "train.distribute=multi_worker"],
                cwd=root,
                env=_env(root, TF_CONFIG=json.dumps(tf_config)),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=240)[0])
    finally:
        for proc in procs:
            proc.kill()
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out
    assert "runs/demo-1" in outputs[0]
    assert "worker 1 (" in outputs[1] and "the chief writes the run" in outputs[1]
    # only the chief wrote a run; the other worker's temporary folder is gone
    assert sorted(p.name for p in (root / "runs").iterdir()) == ["demo-1", "single-1"]
    assert not list((root / "tmp").iterdir())
    run = root / "runs" / "demo-1"
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert (run / "report.html").exists() and (run / "metrics.json").exists()
    environment = json.loads((run / "environment.json").read_text())
    assert environment["distribute"].startswith("multi_worker: 2 replica(s)")

    weights, history = _max_differences(run, single)
    print(f"two workers vs one: max weight difference {weights:.2e}, history {history:.2e}")
    assert weights <= TOLERANCE and history <= TOLERANCE


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_matches_one_device(reference):
    root, config, single = reference
    out = subprocess.run(
        [sys.executable, "-c", SPLIT_CPU, "train", str(config), *SETTINGS]
        + ["--set", "train.distribute=mirrored", "--name", "mirrored"],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    run = root / "runs" / "mirrored-1"
    environment = json.loads((run / "environment.json").read_text())
    assert environment["distribute"] == "mirrored: 2 replica(s)"
    weights, history = _max_differences(run, single)
    print(
        f"two mirrored replicas vs one: max weight difference {weights:.2e}, history {history:.2e}"
    )
    assert weights <= TOLERANCE and history <= TOLERANCE


@pytest.mark.parametrize(
    ("tf_config", "needle"),
    [
        (None, "train.distribute is 'multi_worker' but TF_CONFIG is not set"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]}', "TF_CONFIG is not valid JSON"),
        (
            '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}',
            "TF_CONFIG['task']['index'] is 1, but job 'worker' has 1 address(es)",
        ),
    ],
)
def test_multi_worker_without_a_valid_tf_config_is_a_config_error(
    tabular_experiment, cli, monkeypatch, tf_config, needle
):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    result = cli("train", tabular_experiment, "--set", "train.distribute=multi_worker")
    assert result.exit_code == 2, result.output
    assert needle in result.output and "TF_CONFIG:" in result.output
    assert "Traceback" not in result.output
    assert not (tabular_experiment.parent / "runs").exists()  # nothing half-written
