"""Run ids, atomic creation, path containment and the run lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dltrain import runs
from dltrain.errors import RunError, UsageError


def test_ids_increment_atomically(workdir):
    ids = [runs.create_run("exp")[0] for _ in range(3)]
    assert ids == ["exp-1", "exp-2", "exp-3"]
    (workdir / "runs" / "exp-9").mkdir()
    assert runs.create_run("exp")[0] == "exp-10"


@pytest.mark.parametrize("bad", ["../x", "/etc", "a/b", "", ".hidden", "x y"])
def test_invalid_ids_are_usage_errors(workdir, bad):
    with pytest.raises(UsageError):
        runs.resolve_run(bad)
    assert not (workdir / "runs").exists() or not any((workdir / "runs").iterdir())


def test_symlink_escaping_runs_is_refused(workdir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "config.yaml").write_text("name: x\n")
    (workdir / "runs").mkdir()
    os.symlink(outside, workdir / "runs" / "escape")
    with pytest.raises(UsageError, match="outside the runs folder"):
        runs.resolve_run("escape")


def test_missing_run_lists_nearest(workdir):
    for name in ("ecg-1", "ecg-2"):
        (workdir / "runs" / name).mkdir(parents=True)
        (workdir / "runs" / name / "config.yaml").write_text("")
    with pytest.raises(UsageError, match=r"no run 'ecg-3'.*Did you mean ecg-2, ecg-1\?"):
        runs.resolve_run("ecg-3")


def test_atomic_write_leaves_no_temp_files(tmp_path):
    runs.write_json(tmp_path / "a.json", {"x": 1})
    runs.write_json(tmp_path / "a.json", {"x": 2})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_write_failure_is_a_run_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(RunError, match="cannot write"):
        runs.atomic_write_text(tmp_path / "file" / "inside.txt", "x")


def test_lock_refuses_a_live_owner_and_recovers_a_stale_one(tmp_path):
    with runs.RunLock(tmp_path):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
        # our own PID is alive: a second lock is refused, naming the PID
        with pytest.raises(RunError, match=f"in use by process {os.getpid()}"):
            runs.RunLock(tmp_path).__enter__()
    assert not (tmp_path / ".lock").exists()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    (tmp_path / ".lock").write_text(dead)
    with runs.RunLock(tmp_path) as lock:
        assert lock.stale_pid == int(dead)


def test_status_keeps_start_time(tmp_path):
    runs.set_status(tmp_path, "running", pid=1)
    started = json.loads((tmp_path / "status.json").read_text())["started"]
    runs.set_status(tmp_path, "completed")
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed" and status["started"] == started
