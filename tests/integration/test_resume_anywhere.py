"""A run stopped at any point — in its sanity suite, before its first checkpoint, while
scoring the test split, while writing its report — is continued by `dltrain resume` to the
same result as an uninterrupted run; damaged run files are named (exit 4) and recovered.

Interruptions are injected in-process where a real signal's timing would be luck (the
code path is the one a Ctrl-C takes: a KeyboardInterrupt inside `guarded`); one real
kill -9 during the sanity suite checks the same from another process.
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
    "train.sanity=true",  # stopped in the suite, too
    "--set",
    "train.epochs=4",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.early_stopping=null",
]


def _experiment(folder: Path) -> Path:
    make_table(n=120).to_csv(folder / "table.csv", index=False)
    return write_config(folder, BASIC_CONFIG)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run (sanity suite on) that every stopped run must end up as."""
    from typer.testing import CliRunner

    from dltrain.cli import app

    root = tmp_path_factory.mktemp("reference")
    config = _experiment(root)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(app, ["train", str(config), *SETTINGS])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return root / "runs" / "demo-1"


@pytest.fixture
def experiment(workdir):
    return _experiment(workdir)


def _stop_on_call(monkeypatch, owner, name: str, after: int = 0) -> None:
    """Makes `owner.name` raise KeyboardInterrupt (as Ctrl-C would) from call `after + 1`."""
    real = getattr(owner, name)
    calls = []

    def stopping(*args, **kwargs):
        calls.append(1)
        if len(calls) > after:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, stopping)


def _status(run: Path) -> dict:
    return json.loads((run / "status.json").read_text())


def _same_as(reference: Path, run: Path, *, sanity: bool = True) -> None:
    import keras

    ref = keras.saving.load_model(reference / "model.keras").get_weights()
    got = keras.saving.load_model(run / "model.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(ref, got, strict=True)), "weights differ"
    for name in ("history.csv", "predictions/test.csv", "predictions/val.csv"):
        assert (run / name).read_text() == (reference / name).read_text(), name
    for name in ("metrics.json", *(["sanity.json"] if sanity else [])):
        assert json.loads((run / name).read_text()) == json.loads((reference / name).read_text()), (
            name
        )
    status = _status(run)
    assert status["status"] == "completed" and "message" not in status, status
    assert (run / "report.html").is_file()
    assert not [p for p in run.rglob(".*") if ".tmp" in p.name], "temporary files left"


def _stopped(result, phase: str, run: Path) -> None:
    assert result.exit_code == 130, result.output
    assert "dltrain resume demo-1" in result.output
    status = _status(run)
    assert (status["status"], status["phase"]) == ("interrupted", phase), status


def test_stopped_during_the_sanity_suite(reference, experiment, workdir, cli, monkeypatch):
    from dltrain.training import sanity

    with monkeypatch.context() as m:
        _stop_on_call(m, sanity, "run_suite")
        result = cli("train", experiment, *SETTINGS)
    run = workdir / "runs" / "demo-1"
    _stopped(result, "sanity", run)
    assert not (run / "sanity.json").exists()
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    assert "training starts from epoch 1" in resumed.output
    _same_as(reference, run)


def test_killed_during_the_sanity_suite(reference, experiment, workdir, cli):
    env = {**os.environ, "DLTRAIN_RUNS": str(workdir / "runs")}
    env.pop("DLTRAIN_CACHE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dltrain", "train", str(experiment), *SETTINGS],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run = workdir / "runs" / "demo-1"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "training ended before its sanity suite was seen"
            try:
                if _status(run).get("phase") == "sanity":
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        else:
            pytest.fail("the sanity suite never started")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    _same_as(reference, run)


def test_stopped_before_the_first_checkpoint(reference, experiment, workdir, cli, monkeypatch):
    from dltrain.training import loop

    with monkeypatch.context() as m:
        _stop_on_call(m, loop, "run")
        result = cli("train", experiment, *SETTINGS)
    run = workdir / "runs" / "demo-1"
    _stopped(result, "training", run)
    assert not list((run / "checkpoints").iterdir())
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    _same_as(reference, run)


def test_stopped_while_scoring_the_test_split(reference, experiment, workdir, cli, monkeypatch):
    from dltrain.evaluation import final

    with monkeypatch.context() as m:
        _stop_on_call(m, final, "score_split", after=1)  # validation scored, then test
        result = cli("train", experiment, *SETTINGS)
    run = workdir / "runs" / "demo-1"
    _stopped(result, "testing", run)
    assert not (run / "metrics.json").exists()
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    _same_as(reference, run)


def test_stopped_while_writing_the_report(reference, experiment, workdir, cli, monkeypatch):
    from dltrain.evaluation import report

    with monkeypatch.context() as m:
        _stop_on_call(m, report, "write_report")
        result = cli("train", experiment, *SETTINGS)
    run = workdir / "runs" / "demo-1"
    _stopped(result, "report", run)
    assert not (run / "report.html").exists()
    copy = workdir / "runs" / "demo-copy"
    shutil.copytree(run, copy)
    # a run whose results are all written is not completed until its report is
    assert cli("evaluate", "demo-1").exit_code == 4
    finished = cli("report", "demo-1")
    assert finished.exit_code == 0, finished.output
    _same_as(reference, run)
    resumed = cli("resume", "demo-copy")  # resume finishes it just as well
    assert resumed.exit_code == 0, resumed.output
    _same_as(reference, copy)


def _stopped_after_epochs(cli, monkeypatch, experiment, epochs: int):
    from dltrain.training import checkpoint

    with monkeypatch.context() as m:
        _stop_on_call(m, checkpoint, "save", after=epochs)
        result = cli("train", experiment, *SETTINGS)
    assert result.exit_code == 130, result.output


def test_damaged_best_model_is_rebuilt(reference, experiment, workdir, cli, monkeypatch):
    _stopped_after_epochs(cli, monkeypatch, experiment, 3)
    run = workdir / "runs" / "demo-1"
    best = run / "checkpoints" / "best.keras"
    data = bytearray(best.read_bytes())
    data[len(data) // 2] ^= 0xFF
    best.write_bytes(bytes(data))
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    assert "best.keras was missing or damaged; rebuilt" in resumed.output.replace("\n", " ")
    _same_as(reference, run)


def test_missing_checkpoint_manifest_is_not_a_restart(
    reference, experiment, workdir, cli, monkeypatch
):
    _stopped_after_epochs(cli, monkeypatch, experiment, 2)
    run = workdir / "runs" / "demo-1"
    (run / "checkpoints" / "manifest.json").unlink()
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    text = resumed.output.replace("\n", " ")
    assert "manifest.json is missing" in text and "epoch 3, after step 0" in text
    _same_as(reference, run)


@pytest.mark.parametrize(
    "manifest",
    [
        [1, 2],
        {"format": 2, "checkpoints": "state-000001-000000.npz"},
        {
            "format": 2,
            "checkpoints": [
                {
                    "file": "../../../etc/passwd",
                    "sha256": "0" * 64,
                    "bytes": 1,
                    "epoch": 1,
                    "step": 0,
                }  # fmt: skip
            ],
        },
        {"format": 2, "checkpoints": [{"file": "state-000001-000000.npz"}]},
    ],
    ids=["list", "wrong-type", "outside-the-run", "missing-keys"],
)
def test_checkpoint_manifest_of_the_wrong_shape(experiment, workdir, cli, monkeypatch, manifest):
    _stopped_after_epochs(cli, monkeypatch, experiment, 1)
    path = workdir / "runs" / "demo-1" / "checkpoints" / "manifest.json"
    path.write_text(json.dumps(manifest))
    result = cli("resume", "demo-1")
    assert result.exit_code == 4, result.output
    assert "is damaged or not a dltrain checkpoint manifest" in result.output.replace("\n", " ")
    assert "Traceback" not in result.output


def test_damaged_final_model_is_named_and_repaired(reference, experiment, workdir, cli, tmp_path):
    result = cli("train", experiment, *SETTINGS)
    assert result.exit_code == 0, result.output
    run = workdir / "runs" / "demo-1"
    model = run / "model.keras"
    model.write_bytes(model.read_bytes()[:-100])  # truncated: what a lost write leaves
    table = workdir / "table.csv"
    for args in (
        ["evaluate", "demo-1"],
        ["predict", "demo-1", table, "--out", tmp_path / "p.csv"],
        ["export", "demo-1", "--format", "keras"],
    ):
        bad = cli(*args)
        assert bad.exit_code == 4, bad.output
        text = bad.output.replace("\n", " ")
        assert "runs/demo-1/model.keras is damaged" in text and "dltrain resume demo-1" in text, (
            text
        )
    repaired = cli("resume", "demo-1")
    assert repaired.exit_code == 0, repaired.output
    _same_as(reference, run)
    assert cli("evaluate", "demo-1").exit_code == 0
    again = cli("resume", "demo-1")
    assert again.exit_code == 2 and "already completed" in again.output


def test_damaged_preprocessing_is_named(experiment, workdir, cli, tmp_path):
    assert cli("train", experiment, *SETTINGS, "--set", "train.sanity=false").exit_code == 0
    path = workdir / "runs" / "demo-1" / "preprocessing.json"
    path.write_text(path.read_text().replace("0", "1", 1))
    bad = cli("predict", "demo-1", workdir / "table.csv", "--out", tmp_path / "p.csv")
    assert bad.exit_code == 4 and "runs/demo-1/preprocessing.json is damaged" in bad.output.replace(
        "\n", " "
    )


def test_a_full_disk_mid_training(reference, experiment, workdir, cli, monkeypatch):
    """Every write fails once the disk is full (status.json too): the message names the
    write that failed, the last good checkpoint and the command; no temporary file is
    left; after space is freed, resume ends as the uninterrupted run."""
    from dltrain.training import checkpoint

    real_save, real_fsync = checkpoint.save, os.fsync
    saved = []

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def save_then_fill(run_dir, model, meta):
        path = real_save(run_dir, model, meta)
        saved.append(path.name)
        if len(saved) == 2:
            monkeypatch.setattr(os, "fsync", no_space)
        return path

    monkeypatch.setattr(checkpoint, "save", save_then_fill)
    result = cli("train", experiment, *SETTINGS)
    monkeypatch.setattr(os, "fsync", real_fsync)
    monkeypatch.setattr(checkpoint, "save", real_save)
    assert result.exit_code == 4, result.output
    text = result.output.replace("\n", "")
    run = workdir / "runs" / "demo-1"
    assert "No space left on device" in text
    assert "status.json" not in text  # the write that failed, not the status update after it
    assert f"The last good checkpoint is runs/demo-1/checkpoints/{saved[-1]}" in text
    assert "dltrain resume demo-1" in text
    assert not [p for p in run.rglob(".*") if ".tmp" in p.name]
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    _same_as(reference, run)


def test_data_source_is_the_runs_own(tmp_path, monkeypatch, cli):
    """Two working folders with the same data share one cache; each run records its own
    data path (as its config gave it), and resumes from it after the other is gone."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("DLTRAIN_CACHE", str(cache))
    monkeypatch.delenv("DLTRAIN_RUNS", raising=False)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        _experiment(folder)
    monkeypatch.chdir(first)
    fast = [*SETTINGS, "--set", "train.sanity=false"]
    assert cli("train", "exp.yaml", *fast).exit_code == 0
    monkeypatch.chdir(second)
    from dltrain.training import checkpoint

    with monkeypatch.context() as m:
        _stop_on_call(m, checkpoint, "save", after=1)
        assert cli("train", "exp.yaml", *fast).exit_code == 130
    shutil.rmtree(first)
    source = json.loads((second / "runs/demo-1/dataset.json").read_text())["source"]
    assert source["path"] == "table.csv"
    assert source["resolved"]["path"] == str(second / "table.csv")
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    assert cli("evaluate", "demo-1").exit_code == 0
    (second / "table.csv").unlink()
    gone = cli("evaluate", "demo-1")
    assert gone.exit_code == 3 and "--set" not in gone.output, gone.output


def test_stopped_while_resume_rebuilds_the_cache(reference, experiment, workdir, cli, monkeypatch):
    """The cache is gone; resume preprocesses again and is stopped doing it: the run stays
    resumable, and the next resume ends as the uninterrupted run."""
    from dltrain.data import builder

    _stopped_after_epochs(cli, monkeypatch, experiment, 2)
    shutil.rmtree(workdir / "data" / "processed")
    with monkeypatch.context() as m:
        _stop_on_call(m, builder, "build")  # cache.preprocess imports it when it builds
        stopped = cli("resume", "demo-1")
    assert stopped.exit_code == 130, stopped.output
    run = workdir / "runs" / "demo-1"
    assert _status(run)["status"] == "interrupted"
    assert not [p for p in (workdir / "data" / "processed").iterdir()]  # no half cache
    resumed = cli("resume", "demo-1")
    assert resumed.exit_code == 0, resumed.output
    _same_as(reference, run)
