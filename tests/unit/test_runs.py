"""Run ids, atomic creation, path containment and the run lock."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dltrain import records, runs
from dltrain.cli import app
from dltrain.errors import RunError, UsageError
from tests.conftest import REPO


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
    records.set_status(tmp_path, "running", pid=1)
    started = json.loads((tmp_path / "status.json").read_text())["started"]
    records.set_status(tmp_path, "completed")
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed" and status["started"] == started


def _dead_pid() -> int:
    """The PID of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lock_is_taken_on_the_file_its_path_names(tmp_path, monkeypatch):
    """The unlink race: B opens `.lock`, A releases it (removes it), B locks the removed
    file. B must notice and lock the file now at the path, or C could hold the lock too."""
    a = runs.RunLock(tmp_path).__enter__()
    real_open = os.open

    def open_then_release_a(path, *args, **kwargs):
        fd = real_open(path, *args, **kwargs)
        if str(path).endswith(".lock") and a._fd is not None:
            a.__exit__(None, None, None)
        return fd

    monkeypatch.setattr(runs.os, "open", open_then_release_a)
    with runs.RunLock(tmp_path):
        monkeypatch.setattr(runs.os, "open", real_open)
        with pytest.raises(RunError, match=f"in use by process {os.getpid()}"):
            runs.RunLock(tmp_path).__enter__()
    assert not (tmp_path / ".lock").exists()


def test_ensure_free_checks_without_taking_the_lock(tmp_path):
    lock = runs.RunLock(tmp_path)
    lock.ensure_free()  # no lock file
    parent = os.getppid()  # alive, but does not hold the lock: a reused PID
    (tmp_path / ".lock").write_text(str(parent))
    lock.ensure_free()
    assert (tmp_path / ".lock").read_text() == str(parent)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from dltrain.runs import RunLock; "
            "RunLock(Path(sys.argv[1])).__enter__(); print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            RunError, match=f"run {tmp_path.name} is in use by process {holder.pid}"
        ):
            lock.ensure_free()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    lock.ensure_free()  # killed: the kernel released its lock
    with runs.RunLock(tmp_path) as taken:
        assert taken.stale_pid == holder.pid


def _full_disk(monkeypatch):
    def pwrite(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runs.os, "pwrite", pwrite)


def test_full_disk_at_the_lock_leaves_no_run_folder(workdir, monkeypatch):
    run_id, run_dir = runs.create_run("exp")
    _full_disk(monkeypatch)
    with pytest.raises(RunError) as info:
        with runs.RunLock(run_dir, new=True):
            pytest.fail("the lock was taken")
    assert f"cannot write the lock file {run_dir / '.lock'}" in info.value.message
    assert "No space left on device" in info.value.message
    assert "free some space" in info.value.message
    assert list((workdir / "runs").iterdir()) == []


def test_full_disk_at_the_lock_of_an_existing_run_keeps_the_run(tmp_path, monkeypatch):
    (tmp_path / "config.yaml").write_text("name: x\n")
    _full_disk(monkeypatch)
    with pytest.raises(RunError, match="cannot write the lock file"):
        runs.RunLock(tmp_path).__enter__()
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_a_new_run_that_never_starts_is_removed(workdir):
    _, run_dir = runs.create_run("exp")
    with pytest.raises(RunError, match="cannot write"):
        with runs.RunLock(run_dir, new=True):
            raise RunError("cannot write status.json")
    assert not run_dir.exists()
    _, started = runs.create_run("exp")
    with runs.RunLock(started, new=True):
        records.set_status(started, "running")
    assert [p.name for p in started.iterdir()] == ["status.json"]


def test_full_disk_in_an_atomic_write_says_what_to_do(tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runs.os, "fsync", fsync)
    with pytest.raises(RunError, match=r"cannot write .*a\.json: No space left on device; .*free"):
        runs.write_json(tmp_path / "a.json", {})
    assert list(tmp_path.iterdir()) == []


def test_completed_drops_the_message_of_an_earlier_attempt(tmp_path):
    records.set_status(tmp_path, "running", pid=1)
    records.set_status(tmp_path, "interrupted", message="stopped by Ctrl-C")
    started = json.loads((tmp_path / "status.json").read_text())["started"]
    records.set_status(tmp_path, "running", pid=2)
    assert "message" not in json.loads((tmp_path / "status.json").read_text())
    records.set_status(tmp_path, "failed", message="disk full")
    records.set_status(tmp_path, "completed")
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed" and status["started"] == started
    assert "message" not in status


def test_runs_lists_no_folder_outside_the_runs_folder(workdir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "x"
    outside.mkdir()
    (outside / "status.json").write_text('{"status": "completed"}')
    (workdir / "runs" / "real").mkdir(parents=True)
    (workdir / "runs" / "real" / "status.json").write_text('{"status": "completed"}')
    os.symlink(outside, workdir / "runs" / "x")
    assert [r["id"] for r in runs.list_runs()] == ["real"]
    result = CliRunner().invoke(app, ["runs"])
    assert result.exit_code == 0, result.output
    assert "real" in result.output and "x " not in result.output.replace("│", " ")


@pytest.mark.parametrize(
    "name", ["checkpoints", "comparisons", "evaluations", "exports", "logs", "plots", "predictions"]
)
def test_a_linked_subfolder_is_refused(tmp_path, name):
    run, outside = tmp_path / "run", tmp_path / "outside"
    run.mkdir()
    outside.mkdir()
    os.symlink(outside, run / name)
    with pytest.raises(RunError, match=rf"{run / name} is a symbolic link .*Remove the link"):
        runs.run_subdir(run, name)
    assert list(outside.iterdir()) == []


def test_run_subdir_makes_a_missing_folder_and_refuses_a_file(tmp_path):
    assert runs.run_subdir(tmp_path, "plots") == tmp_path / "plots"
    assert (tmp_path / "plots").is_dir()
    (tmp_path / "logs").write_text("")
    with pytest.raises(RunError, match="is a file, not a folder"):
        runs.run_subdir(tmp_path, "logs")


def test_temporary_files_carry_their_writer(tmp_path, monkeypatch):
    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        runs.write_json(tmp_path / "status.json", {})
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(f".status.json.{runs.temp_tag()}.") and left.name.endswith(".tmp")
    assert not runs.left_behind(left.name, untagged=True)  # we are still running


def test_clean_temporary_removes_what_killed_writers_left(tmp_path):
    run = tmp_path / "run"
    dead = f"{_dead_pid()}@{runs._HOST}"
    left = [
        f".history.csv.{dead}.ab_12xyz.tmp",
        f"plots/.roc_test.png.{dead}.k2j4h5g6.tmp",
        "checkpoints/.best.tmp.keras",
        "checkpoints/.state-000001-000000.npz.x1y2.tmp",  # an older dltrain's name
        "exports/.savedmodel.tmp-123/saved_model.pb",
    ]
    kept = [
        f".status.json.{runs.temp_tag()}.ab_12xyz.tmp",  # this process: still writing
        f"evaluations/.test.json.{_dead_pid()}@another-host.abcdefgh.tmp",
        "history.csv",
        "checkpoints/best.keras",
        "plots/roc_test.png",
    ]
    for name in left + kept:
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".x.tmp").write_text("x")
    os.symlink(outside, run / "logs")
    removed = runs.clean_temporary(run)
    assert sorted(removed) == sorted(run / n.removesuffix("/saved_model.pb") for n in left)
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()) == sorted(kept)
    assert (outside / ".x.tmp").exists()
