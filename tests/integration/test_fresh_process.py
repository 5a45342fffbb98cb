"""Every verb on every kind of run, each in a new process — the way users run dltrain.

For each bundled example config (all five data kinds, augmentation on) and each task
(binary, multiclass, multilabel, regression, reconstruction), one tiny run is trained
by the case's own test and stopped after its first epoch. Then, each in its own new
`python -m dltrain` process that never imported the training code: `resume` completes it,
`evaluate` must
reproduce its metrics.json, `predict` writes predictions for new input, `export` writes
every format the model supports, `report` rebuilds the report and `compare` compares it.
A process that trained a model has every custom Keras object registered; a new one has
only what loading registers — which is what this checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, make_table, write_config
from tests.integration.test_kinds import make_signals

pytestmark = pytest.mark.slow
SPREAD = True  # each case trains its own run: pytest-xdist may spread them (tests/conftest.py)

QUICK = [  # the sanity suite stays on: the bundled examples must pass it as shipped
    "--set",
    "train.epochs=2",
    "--set",
    "train.early_stopping=null",
    "--set",
    "evaluate.bootstrap=20",
]

# case → (config, what to predict, export formats)
CASES = {
    "tabular-binary": ("configs/breast_cancer.yaml", "data/breast_cancer.csv", "all"),
    "images-multiclass": ("configs/digits.yaml", "data/digits/3", "all"),
    "signals-multiclass": (
        "configs/shoulder_exercises.yaml",
        "data/shoulder_exercises/signals.npy",
        "all",
    ),
    "signals-reconstruction": (
        "configs/ecg_autoencoder.yaml",
        "data/ecg_mitdb208/signals.npy",
        "all",
    ),
    # a GRU: TFLite needs Select TF ops for recurrent layers, so dltrain refuses it
    "text-multiclass": (
        "configs/icd9_text.yaml",
        "data/icd9_diagnoses/diagnoses.csv",
        "no-tflite",
    ),
    # TFLite has no 3-D pooling op (it would need Select TF ops too)
    "volumes-binary": (
        "configs/brain_patches.yaml",
        "data/brain_patches/volumes.npy",
        "no-tflite",
    ),
    "tabular-regression": ("regression.yaml", "regression.csv", "all"),
    "signals-multilabel": ("multilabel.yaml", "multi/signals.npy", "all"),
}
FORMATS = ["keras", "savedmodel", "onnx", "tflite"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The bundled data and the configs of the two tasks no bundled example has; each case's
    run is trained by its own test (`_stopped_run`), so the cases spread over workers."""
    root = tmp_path_factory.mktemp("fresh")
    shutil.copytree(REPO / "data", root / "data", ignore=shutil.ignore_patterns("processed"))
    shutil.copytree(REPO / "configs", root / "configs")
    make_table(n=120, task="regression").to_csv(root / "regression.csv", index=False)
    write_config(
        root,
        """
        name: tabular-regression
        data: {kind: tabular, path: regression.csv, target: outcome, id: patient}
        model: {architecture: mlp, hidden_units: [8]}
        train: {batch_size: 16}
        """,
        "regression.yaml",
    )
    (root / "multi").mkdir()
    make_signals(root / "multi", n=90)
    write_config(
        root,
        """
        name: signals-multilabel
        data: {kind: signals, path: multi/signals.npy, labels: multi/labels.csv,
               target: [afib, pvc], augment: [{scale: [0.9, 1.1]}, {shift: 0.1}]}
        model: {architecture: cnn1d, filters: [4]}
        train: {batch_size: 16}
        """,
        "multilabel.yaml",
    )
    return root


def _stopped_run(root: Path, case: str) -> Path:
    """Trains `case` in this process and stops it after its first epoch (as Ctrl-C after the
    first checkpoint): the run that the new processes then resume and use."""
    from typer.testing import CliRunner

    from dltrain.cli import app
    from dltrain.training import checkpoint

    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("DLTRAIN_RUNS", str(root / "runs"))
    mp.setenv("DLTRAIN_CACHE", str(root / "cache"))
    real_save = checkpoint.save

    def stop_after_first_epoch(run_dir, model, meta):
        real_save(run_dir, model, meta)
        raise KeyboardInterrupt

    try:
        mp.setattr(checkpoint, "save", stop_after_first_epoch)
        config = CASES[case][0]
        result = CliRunner().invoke(app, ["train", config, *QUICK, "--name", case])
        assert result.exit_code == 130, f"{case}: {result.output}"
    finally:
        mp.undo()
    return root / "runs" / f"{case}-1"


def _dltrain(root: Path, *args, code: int = 0) -> str:
    """`python -m dltrain ARGS` in a new process; its output when it exits with `code`."""
    env = {
        **os.environ,
        "DLTRAIN_RUNS": str(root / "runs"),
        "DLTRAIN_CACHE": str(root / "cache"),
        "PYTHONPATH": str(REPO),  # this checkout's dltrain, wherever it is installed from
    }
    out = subprocess.run(
        [sys.executable, "-m", "dltrain", *map(str, args)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == code, f"dltrain {' '.join(map(str, args))}:\n{out.stdout}{out.stderr}"
    return out.stdout + out.stderr


@pytest.mark.parametrize("case", list(CASES))
def test_every_verb_in_a_new_process(root, case, tmp_path):
    _, inputs, formats = CASES[case]
    run = _stopped_run(root, case)
    run_id = run.name
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted"

    _dltrain(root, "resume", run_id)
    assert json.loads((run / "status.json").read_text())["status"] == "completed"

    _dltrain(root, "evaluate", run_id)
    trained = json.loads((run / "metrics.json").read_text())["test"]
    again = json.loads((run / "evaluations" / "test.json").read_text())["test"]
    assert trained.keys() == again.keys()
    for name, m in trained.items():
        for key in ("value", "low", "high"):
            a, b = m[key], again[name][key]
            assert (a is None and b is None) or abs(a - b) <= 1e-6, (name, key, a, b)

    out = tmp_path / "predictions.csv"
    _dltrain(root, "predict", run_id, inputs, "--out", out)
    predicted = pd.read_csv(out)
    assert len(predicted) > 0 and not predicted.isna().all(axis=None)

    # every format in one process; TFLite last, so where it is refused (exit 2, naming the
    # ops it lacks) the others are already written
    said = _dltrain(
        root, "export", run_id, *(a for f in FORMATS for a in ("--format", f)),
        code=0 if formats == "all" else 2,
    )  # fmt: skip
    chosen = [f for f in FORMATS if formats == "all" or f != "tflite"]
    if formats != "all":
        assert "standard TFLite runtime does not have" in said, said
        assert not (run / "exports" / "tflite").exists()
    for fmt in chosen:
        exported = json.loads((run / "exports" / fmt / "export.json").read_text())
        assert exported["format"] == fmt and exported["check"]["max_abs_diff"] <= 1e-4

    (run / "report.html").unlink()
    _dltrain(root, "report", run_id)
    assert (run / "report.html").stat().st_size > 0

    _dltrain(root, "compare", run_id, run_id, "--bootstrap", "20")
    compared = json.loads((run / "comparisons" / f"{run_id}.json").read_text())
    values = [m["difference"] for m in compared["metrics"].values() if m["difference"] is not None]
    assert np.allclose(values, 0.0)
