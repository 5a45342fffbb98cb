"""The stat record: an unchanged source file is not read again; a changed one is; `--rehash`
reads them all; the content check of `evaluate` always reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from dltrain.cli import app
from dltrain.config import load_config
from dltrain.data import statcache
from dltrain.data.cache import preprocess
from dltrain.errors import DataError
from dltrain.kinds import kind_of
from tests.conftest import write_config

SIGNALS = """
name: stat
data:
  kind: signals
  path: series
  labels: labels.csv
model: {architecture: cnn1d, filters: [2]}
"""
HOUR = 3600 * 10**9


@pytest.fixture
def reads(monkeypatch):
    """The files read and hashed, in order (statcache.sha256_stream spied on)."""
    seen: list[str] = []
    real = statcache.sha256_stream

    def spy(path):
        seen.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(statcache, "sha256_stream", spy)
    return seen


@pytest.fixture
def series(workdir, monkeypatch):
    """Ten one-record .npy files with labels, and their config; files count as old."""
    monkeypatch.setattr(statcache, "RACY_SECONDS", 0.0)
    rng = np.random.default_rng(0)
    (workdir / "series").mkdir()
    for i in range(10):
        np.save(workdir / "series" / f"r{i}.npy", rng.normal(size=(20, 1)).astype("float32"))
    rows = "".join(f"r{i},{'ab'[i % 2]}\n" for i in range(10))
    (workdir / "labels.csv").write_text("id,label\n" + rows)
    return write_config(workdir, SIGNALS)


def test_a_second_preprocess_reads_no_unchanged_file(series, reads):
    first = preprocess(load_config(series))
    assert sorted(reads) == sorted([f"r{i}.npy" for i in range(10)] + ["labels.csv"])
    reads.clear()
    second = preprocess(load_config(series))
    assert second.hit and second.path == first.path
    assert reads == []


def test_a_touched_or_rewritten_file_is_read_again(series, workdir, reads):
    first = preprocess(load_config(series))
    touched = workdir / "series" / "r3.npy"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns - HOUR))
    reads.clear()
    assert preprocess(load_config(series)).path == first.path
    assert reads == ["r3.npy"]
    # same size, mtime put back: the change time (which no program can set) still differs
    rewritten = workdir / "series" / "r5.npy"
    st = rewritten.stat()
    data = bytearray(rewritten.read_bytes())
    data[-1] ^= 1
    rewritten.write_bytes(bytes(data))
    os.utime(rewritten, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert rewritten.stat().st_mtime_ns == st.st_mtime_ns
    assert rewritten.stat().st_ctime_ns != st.st_ctime_ns
    reads.clear()
    changed = preprocess(load_config(series))
    assert reads == ["r5.npy"]
    assert not changed.hit and changed.path != first.path


def test_rehash_reads_every_file(series, reads):
    preprocess(load_config(series))
    reads.clear()
    result = CliRunner().invoke(app, ["preprocess", str(series), "--rehash"])
    assert result.exit_code == 0, result.output
    assert "Cache hit" in result.output
    assert len(reads) == 11
    assert "--rehash" in CliRunner().invoke(app, ["preprocess", "--help"]).output


def test_a_file_changed_just_now_is_not_recorded(series, workdir, reads, monkeypatch):
    """Hashed within the racy window of its change, a file could change again with the same
    times: it is read again next time."""
    preprocess(load_config(series))
    time.sleep(0.1)
    fresh = workdir / "series" / "r0.npy"
    fresh.write_bytes(fresh.read_bytes())  # changed now; the others 0.1 s before
    now = fresh.stat().st_ctime_ns  # as if hashed in the same instant
    monkeypatch.setattr(statcache, "time", SimpleNamespace(time_ns=lambda: now))
    monkeypatch.setattr(statcache, "RACY_SECONDS", 0.05)
    preprocess(load_config(series))
    reads.clear()
    preprocess(load_config(series))
    assert reads == ["r0.npy"]


def test_a_damaged_record_is_ignored(series, workdir, reads):
    preprocess(load_config(series))
    (record,) = (workdir / "data" / "processed" / ".stat").iterdir()
    record.write_text('{"version": 1, "root": 3, "files": [')
    reads.clear()
    assert preprocess(load_config(series)).hit
    assert len(reads) == 11
    assert json.loads(record.read_text())["version"] == statcache.VERSION  # written again


def test_a_data_error_records_nothing(series, workdir):
    (workdir / "labels.csv").write_text("id,label\nr0,a\n")  # nine records unlabelled
    with pytest.raises(DataError):
        preprocess(load_config(series))
    assert not (workdir / "data" / "processed" / ".stat").exists()


def test_the_content_check_reads_every_file(series, reads):
    """`evaluate` compares the source with the run's record by its bytes, not the record."""
    config = load_config(series)
    processed = preprocess(config)
    reads.clear()
    assert kind_of("signals").source_sha(config) == processed.manifest["source"]["sha256"]
    assert len(reads) == 11


def test_a_cache_hit_imports_no_pandas(tabular_experiment):
    preprocess(load_config(tabular_experiment))
    code = (
        "import sys\n"
        "from dltrain.cli import app\n"
        "app(['preprocess', sys.argv[1]], standalone_mode=False)\n"
        "print([m for m in ('pandas', 'sklearn', 'tensorflow') if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tabular_experiment)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Cache hit" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
