"""`dltrain train` piped into a file, as a new user runs it: lines arrive while it works
(`tail -f` follows), each plain and whole, and TensorFlow's own log lines stay hidden
unless `--verbose`."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import REPO, write_config

# Text and an embedding: TensorFlow's C++ log says "oneDNN supports DT_BOOL only on
# platforms with AVX-512" on such runs (an E0000 line) unless it is silenced.
NOTES = """
name: notes
seed: 2
data: {kind: text, path: notes.csv, max_tokens: 50, max_length: 8}
model: {architecture: gru, units: [4], embedding_dim: 8}
train: {epochs: 3, batch_size: 8, early_stopping: null}
evaluate: {bootstrap: 20}
"""
TF_LOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|oneDNN|cuInit|absl::InitializeLog", re.M)
PY_WARNING = re.compile(r"\.py:\d+: \w*Warning")  # warnings.warn's format, not dltrain's own
STAMP = re.compile(r"^\[\d+:\d\d\] ")


def _notes(folder):
    words = {"good": "calm stable improving", "bad": "pain fever worse"}
    rows = [
        {"text": f"patient {words[label]} day {i}", "label": label}
        for i in range(48)
        for label in ("good", "bad")
    ]
    pd.DataFrame(rows).to_csv(folder / "notes.csv", index=False)
    return write_config(folder, NOTES)


def _start(workdir, *args):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DLTRAIN_RUNS": str(workdir / "runs"),
        "DLTRAIN_CACHE": str(workdir / "cache"),
    }
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env.pop("COLUMNS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "dltrain", *map(str, args)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_piped_run_writes_whole_plain_lines_as_it_goes(workdir):
    process = _start(workdir, "train", _notes(workdir))
    first = process.stdout.readline()
    still_running = process.poll() is None  # the line came before the run ended: flushed
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, out + err
    assert still_running and first.endswith("startup: loading TensorFlow\n")
    text = first + out
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    events = [STAMP.sub("", line) for line in lines if STAMP.match(line)]
    phases = [e.split(":")[0] for e in events if not e.startswith(("epoch", "sanity suite "))]
    assert phases[:3] == ["startup", "preprocess", "run notes-1"]
    assert [p for p in phases if p in ("sanity suite", "training", "testing", "report")] == [
        "sanity suite",
        "training",
        "testing",
        "report",
    ]
    epochs = [e for e in events if e.startswith("epoch ")]
    assert [e.split()[1] for e in epochs] == ["1/3", "2/3", "3/3"]
    assert all("train loss " in e and "val loss " in e for e in epochs)
    why = [e for e in events if e.startswith("Training ")]  # why it stopped, which epoch kept
    assert len(why) == 1 and ("ran all 3 epochs" in why[0] or "still improving" in why[0])
    assert "kept epoch" in why[0]
    assert "Leakage audit:" in text  # train shows the data summary and the audit
    assert not any(line.rstrip().endswith("…") for line in lines)
    assert not TF_LOG.search(err), err  # TensorFlow's C++ chatter is silenced
    assert not PY_WARNING.search(err), err  # nor Python warnings of the libraries underneath


@pytest.mark.slow
def test_verbose_leaves_tensorflow_logging_alone():
    code = (
        "import os; from dltrain import backend; backend.load(verbose={v}); "
        "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    for verbose, level in ((False, "3"), (True, "None")):
        out = subprocess.run(
            [sys.executable, "-c", code.format(v=verbose)], env=env, capture_output=True, text=True
        )
        assert out.stdout.strip() == level, out.stderr
