"""Writes never leave a run folder, a run that cannot start leaves nothing, and what a
killed writer left in a run is cleaned when its report is rebuilt."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys

import pytest

from dltrain import runs
from tests.conftest import BASIC_CONFIG, make_table, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cli):
    """Two tiny finished runs of one experiment (same test split): demo-1 and demo-2."""
    root = tmp_path_factory.mktemp("safety")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("DLTRAIN_RUNS", str(root / "runs"))
    mp.setenv("DLTRAIN_CACHE", str(root / "data" / "processed"))
    make_table().to_csv(root / "table.csv", index=False)
    config = write_config(root, BASIC_CONFIG)
    for _ in range(2):
        result = cli("train", config, "--set", "train.sanity=false")
        assert result.exit_code == 0, result.output
    yield root
    mp.undo()


@contextlib.contextmanager
def linked(run, name, outside):
    """`run/name` replaced by a link to the folder `outside` for the block, then restored."""
    folder = run / name
    aside = run / f"{name}.aside"
    if folder.exists():
        folder.rename(aside)
    outside.mkdir(exist_ok=True)
    os.symlink(outside, folder)
    try:
        yield folder
    finally:
        folder.unlink()
        if aside.exists():
            aside.rename(folder)


def refused(result, folder, outside):
    assert result.exit_code == 4, result.output
    text = " ".join(result.output.split())
    assert f"{folder} is a symbolic link" in text and "Remove the link" in text, text
    assert "Traceback" not in result.output
    assert list(outside.iterdir()) == [], "something was written through the link"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("plots", ["report", "demo-1"]),
        ("evaluations", ["evaluate", "demo-1"]),
        ("exports", ["export", "demo-1", "--format", "keras"]),
    ],
    ids=["report", "evaluate", "export"],
)
def test_a_linked_subfolder_is_not_written_through(trained, cli, tmp_path, name, args):
    run = trained / "runs" / "demo-1"
    report = (run / "report.html").read_bytes()
    with linked(run, name, tmp_path / "elsewhere") as folder:
        refused(cli(*args), folder, tmp_path / "elsewhere")
    assert (run / "report.html").read_bytes() == report


def test_compare_does_not_write_through_a_linked_comparisons(trained, cli, tmp_path):
    run = trained / "runs" / "demo-2"
    with linked(run, "comparisons", tmp_path / "elsewhere") as folder:
        refused(
            cli("compare", "demo-1", "demo-2", "--bootstrap", "10"), folder, tmp_path / "elsewhere"
        )


def test_report_removes_what_killed_writers_left(trained, cli):
    run = trained / "runs" / "demo-1"
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = f"{proc.pid}@{runs._HOST}"
    left = [
        run / f".history.csv.{dead}.ab_12xyz.tmp",
        run / "plots" / f".roc_test.png.{dead}.k2j4h5g6.tmp",
        run / "checkpoints" / ".best.tmp.keras",
    ]
    writing = run / "evaluations" / f".test.json.{runs.temp_tag()}.x1y2z3w4.tmp"
    for path in [*left, writing]:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half")
    result = cli("report", "demo-1")
    assert result.exit_code == 0, result.output
    assert [p for p in left if p.exists()] == []
    assert writing.exists()  # its writer (this process) is alive: it may be writing now
    writing.unlink()


def _no_space(*args):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_before_the_run_starts_leaves_nothing(trained, cli, monkeypatch):
    before = sorted(p.name for p in (trained / "runs").iterdir())
    monkeypatch.setattr(os, "pwrite", _no_space)  # the lock's PID cannot be written
    result = cli("train", trained / "exp.yaml", "--set", "train.sanity=false")
    assert result.exit_code == 4, result.output
    text = " ".join(result.output.split())
    assert "cannot write the lock file" in text and "No space left on device" in text
    assert "free some space" in text and "Traceback" not in text
    assert sorted(p.name for p in (trained / "runs").iterdir()) == before


def test_full_disk_at_the_first_status_leaves_nothing(trained, cli, monkeypatch):
    before = sorted(p.name for p in (trained / "runs").iterdir())
    real_fsync = os.fsync

    def fsync(fd):  # the lock fits, status.json does not
        if "/.status.json." in os.readlink(f"/proc/self/fd/{fd}"):
            _no_space()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    result = cli("train", trained / "exp.yaml", "--set", "train.sanity=false")
    assert result.exit_code == 4, result.output
    text = " ".join(result.output.split())
    assert "status.json: No space left on device" in text and "Traceback" not in text
    assert sorted(p.name for p in (trained / "runs").iterdir()) == before


def test_a_really_full_disk_leaves_nothing(trained, cli, tmp_path, monkeypatch):
    """The same on a real full file system: a 64 KiB tmpfs, filled up, as the runs folder."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mount.stderr.strip() or 'not allowed'}")
    try:
        (disk / "runs").mkdir()
        with contextlib.suppress(OSError), open(disk / "filler", "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 4096)
        monkeypatch.setenv("DLTRAIN_RUNS", str(disk / "runs"))
        result = cli("train", trained / "exp.yaml", "--set", "train.sanity=false")
        assert result.exit_code == 4, result.output
        text = " ".join(result.output.split())
        assert "No space left on device" in text and "free some space" in text
        assert "Traceback" not in text
        assert list((disk / "runs").iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    shutil.rmtree(disk, ignore_errors=True)
