"""SIGTERM and Ctrl-C stop a training run cleanly: status `interrupted`, exit 143 / 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_marks_run_interrupted(workdir, sig, code):
    make_table(n=200).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    env = {**os.environ, "DLTRAIN_RUNS": str(workdir / "runs")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dltrain",
            "train",
            str(config),
            "--set",
            "train.epochs=100000",
            "--set",
            "train.early_stopping=null",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    history = workdir / "runs" / "demo-1" / "history.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if history.exists() and len(history.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, output
    assert "Traceback" not in output and "stopped by" in output
    run = workdir / "runs" / "demo-1"
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted"
    assert (run / "checkpoints" / "best.keras").exists()
    assert not (run / ".lock").exists()
