"""Exact resume: kill -9, SIGTERM, damaged checkpoints, a full disk, a second process.

Every scenario trains the same experiment as one uninterrupted reference run and
must end with bit-identical weights, history and metrics.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config

pytestmark = pytest.mark.slow

SETTINGS = [
    "--set",
    "train.epochs=20",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.sanity=false",
    "--set",
    "train.early_stopping=null",
]


def _experiment(folder: Path) -> Path:
    make_table(n=300).to_csv(folder / "table.csv", index=False)
    return write_config(folder, BASIC_CONFIG)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run every scenario must reproduce exactly (its own process)."""
    root = tmp_path_factory.mktemp("reference")
    config = _experiment(root)
    env = {**os.environ, "DLTRAIN_RUNS": str(root / "runs"), "DLTRAIN_CACHE": str(root / "cache")}
    out = subprocess.run(
        [sys.executable, "-m", "dltrain", "train", str(config), *SETTINGS],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return root / "runs" / "demo-1"


@pytest.fixture
def experiment(workdir):
    return _experiment(workdir)


def _start(workdir: Path, config: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DLTRAIN_RUNS": str(workdir / "runs")}
    env.pop("DLTRAIN_CACHE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "dltrain", "train", str(config), *SETTINGS, *extra],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(proc: subprocess.Popen, ready, what: str, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"training ended before {what}: {proc.communicate()[0]}")
        if ready():
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def _checkpoints(run: Path) -> list[dict]:
    path = run / "checkpoints" / "manifest.json"
    try:
        return json.loads(path.read_text())["checkpoints"]
    except (OSError, ValueError, KeyError):
        return []


def _assert_same_as(reference: Path, run: Path) -> None:
    import keras

    ref = keras.saving.load_model(reference / "model.keras").get_weights()
    got = keras.saving.load_model(run / "model.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(ref, got, strict=True)), "weights differ"
    assert (run / "history.csv").read_text() == (reference / "history.csv").read_text()
    assert json.loads((run / "metrics.json").read_text()) == json.loads(
        (reference / "metrics.json").read_text()
    )
    assert json.loads((run / "status.json").read_text())["status"] == "completed"


def test_kill_at_epoch_boundary_and_a_second_process(reference, experiment, workdir, cli):
    proc = _start(workdir, experiment)
    run = workdir / "runs" / "demo-1"
    _wait_for(proc, lambda: len(_checkpoints(run)) >= 2, "two epoch checkpoints")
    busy = cli("resume", "demo-1")  # the run is locked by a live process
    assert busy.exit_code == 4, busy.output
    assert f"in use by process {proc.pid}" in busy.output
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert all(c["step"] == 0 for c in _checkpoints(run))  # epoch boundaries only
    result = cli("resume", "demo-1")
    assert result.exit_code == 0, result.output
    assert f"lock of process {proc.pid} was stale" in result.output
    assert "after step 0" in result.output
    _assert_same_as(reference, run)


def test_kill_mid_epoch_and_during_a_checkpoint_write(reference, experiment, workdir, cli):
    proc = _start(workdir, experiment, "--set", "train.checkpoint_every=5")
    run = workdir / "runs" / "demo-1"

    def newest_mid_epoch() -> bool:
        entries = _checkpoints(run)
        return bool(entries) and entries[-1]["step"] > 0 and entries[-1]["epoch"] >= 1

    # frozen (SIGSTOP) while its newest checkpoint is mid-epoch, then killed: training
    # could otherwise write an epoch-end checkpoint between the look and the kill
    while True:
        _wait_for(proc, newest_mid_epoch, "a mid-epoch checkpoint")
        proc.send_signal(signal.SIGSTOP)
        if newest_mid_epoch():
            break
        proc.send_signal(signal.SIGCONT)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = run / "checkpoints"
    entries = _checkpoints(run)
    latest = entries[-1]
    # What a kill during a later checkpoint write leaves behind: a half-written temporary
    # file, or a complete file that the manifest does not list yet. Both must be ignored.
    (folder / ".state-000009-000000.npz.x1y2.tmp").write_bytes(b"PK\x03\x04 half")
    shutil.copy(folder / latest["file"], folder / "state-000009-000003.npz")
    result = cli("resume", "demo-1")
    assert result.exit_code == 0, result.output
    assert f"after step {latest['step']}" in result.output.replace("\n", " ")
    assert latest["step"] > 0
    assert not list(folder.glob(".*.tmp"))
    _assert_same_as(reference, run)


def test_sigterm_then_damaged_checkpoint_falls_back(reference, experiment, workdir, cli):
    proc = _start(workdir, experiment, "--set", "train.checkpoint_every=7")
    run = workdir / "runs" / "demo-1"
    _wait_for(proc, lambda: len(_checkpoints(run)) >= 3, "three checkpoints")
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, output
    assert "dltrain resume demo-1" in output
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted"
    newest = run / "checkpoints" / _checkpoints(run)[-1]["file"]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    result = cli("resume", "demo-1")
    assert result.exit_code == 0, result.output
    assert f"{newest.name} is damaged (checksum mismatch)" in result.output.replace("\n", "")
    _assert_same_as(reference, run)


def test_disk_full_keeps_the_last_good_checkpoint(reference, experiment, workdir, cli, monkeypatch):
    from dltrain import runs

    real = runs.atomic_write_bytes
    written = []

    def full_disk_after_two_checkpoints(path, data):
        if Path(path).name.startswith("state-"):
            if len(written) >= 2:

                def no_space(fd):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

                with monkeypatch.context() as m:
                    m.setattr(os, "fsync", no_space)
                    return real(path, data)
            written.append(Path(path).name)
        return real(path, data)

    monkeypatch.setattr(runs, "atomic_write_bytes", full_disk_after_two_checkpoints)
    result = cli("train", experiment, *SETTINGS)
    assert result.exit_code == 4, result.output
    text = result.output.replace("\n", "")
    assert "No space left on device" in text
    run = workdir / "runs" / "demo-1"
    assert f"The last good checkpoint is runs/demo-1/checkpoints/{written[-1]}" in text
    assert [c["file"] for c in _checkpoints(run)] == written
    assert not list((run / "checkpoints").glob(".*.tmp"))
    assert json.loads((run / "status.json").read_text())["status"] == "failed"
    monkeypatch.setattr(runs, "atomic_write_bytes", real)
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    _assert_same_as(reference, run)


def test_resume_refuses_what_it_cannot_continue(reference, experiment, workdir, cli):
    assert cli("resume", "../demo-1").exit_code == 2
    assert cli("resume", "/etc").exit_code == 2
    missing = cli("resume", "demo-9")
    assert missing.exit_code == 2 and "no run 'demo-9'" in missing.output
    shutil.copytree(reference, workdir / "runs" / "demo-1")
    done = cli("resume", "demo-1")
    assert done.exit_code == 2 and "already completed" in done.output
    status = workdir / "runs" / "demo-1" / "status.json"
    status.write_text(json.dumps({"status": "interrupted"}))
    for entry in _checkpoints(workdir / "runs" / "demo-1"):
        (workdir / "runs" / "demo-1" / "checkpoints" / entry["file"]).write_bytes(b"junk")
    broken = cli("resume", "demo-1")
    assert broken.exit_code == 4
    assert "no intact checkpoint" in broken.output and "damaged" in broken.output
