"""`dltrain export` in every format, checked against `dltrain predict`; `predict` for the
input files not covered elsewhere (signals and texts as CSV).

Each exported model is run with its own runtime (Keras, TensorFlow SavedModel, ONNX
Runtime, the TFLite interpreter) on inputs prepared with the export folder's sidecar
preprocessing.json, and must give the probabilities `dltrain predict` wrote within
`TOLERANCE`, and the same decisions at the frozen threshold in export.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dltrain.evaluation.export import TOLERANCE
from tests.conftest import BASIC_CONFIG, make_table, write_config
from tests.integration.test_kinds import make_images, make_signals

pytestmark = pytest.mark.slow

try:
    import onnxruntime  # noqa: F401
    import tf2onnx  # noqa: F401

    HAVE_ONNX = True
except ImportError:
    HAVE_ONNX = False

FORMATS = ["keras", "savedmodel", "onnx", "tflite"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tabular (binary) run and an image run with augmentation, trained once."""
    root = tmp_path_factory.mktemp("export")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("DLTRAIN_RUNS", str(root / "runs"))
    mp.setenv("DLTRAIN_CACHE", str(root / "cache"))
    make_table(n=90).to_csv(root / "table.csv", index=False)
    tab = write_config(root, BASIC_CONFIG)
    make_images(root / "imgs", per_class=10)
    img = write_config(
        root,
        """
        name: img
        data: {kind: images, path: imgs, size: [12, 12], augment: [{flip: horizontal},
               {rotation: 0.05}]}
        model: {architecture: cnn, filters: [4]}
        train: {epochs: 1, batch_size: 8, sanity: false}
        evaluate: {bootstrap: 20}
        """,
        "img.yaml",
    )
    from typer.testing import CliRunner

    from dltrain.cli import app

    runner = CliRunner()
    for config in (tab, img):
        result = runner.invoke(app, ["train", str(config), "--set", "train.sanity=false"])
        assert result.exit_code == 0, result.output
    yield root
    mp.undo()


def _inputs(kind: str, folder: Path, root: Path) -> tuple[np.ndarray, Path]:
    """(model inputs made with the export's sidecar, the raw file given to predict)."""
    if kind == "tabular":
        from dltrain.data.transforms import TabularTransform

        new = root / "new.csv"
        make_table(n=15, seed=7).drop(columns="outcome").to_csv(new, index=False)
        t = TabularTransform.load(folder / "preprocessing.json")
        return t.features(pd.read_csv(new), new)[0], new
    from dltrain.kinds.images.reader import pixels

    manifest = json.loads((folder / "export.json").read_text())
    _, h, w, c = manifest["input"]["shape"]
    files = sorted((root / "imgs" / "right").glob("*.png"))
    x = np.stack([pixels(f, (h, w), c == 3) for f in files]).astype("float32")
    return x, root / "imgs" / "right"


def _run(fmt: str, artifact: Path, x: np.ndarray) -> np.ndarray:
    """The exported model through its own runtime, as a user would call it."""
    if fmt == "keras":
        import keras

        return np.asarray(keras.saving.load_model(artifact, safe_mode=True)(x, training=False))
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(artifact))  # keep it alive while it runs
        return loaded.serve(x).numpy()
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(artifact))
        assert [i.name for i in session.get_inputs()] == ["inputs"]  # no stray graph inputs
        return session.run(None, {"inputs": x})[0]
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(artifact))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize("run_id,kind", [("demo-1", "tabular"), ("img-1", "images")])
def test_every_format_matches_predict(trained, cli, run_id, kind):
    root = trained
    largest = {}
    for fmt in FORMATS:
        if fmt == "onnx" and not HAVE_ONNX:
            if os.environ.get("CI"):  # the dev extra installs it: CI must not skip it
                pytest.fail("tf2onnx/onnxruntime are missing: pip install -e '.[dev]'")
            continue
        result = cli("export", run_id, "--format", fmt)
        assert result.exit_code == 0, result.output
        folder = root / "runs" / run_id / "exports" / fmt
        manifest = json.loads((folder / "export.json").read_text())
        assert manifest["check"]["max_abs_diff"] <= TOLERANCE
        assert manifest["check"]["inputs"].startswith("test split")
        assert (folder / "README.md").read_text().startswith(f"# Run {run_id} exported as {fmt}")
        x, raw = _inputs(kind, folder, root)
        out = root / f"{run_id}-{fmt}.csv"
        assert cli("predict", run_id, raw, "--out", out).exit_code == 0
        predicted = pd.read_csv(out)
        got = _run(fmt, folder / manifest["file"], x).astype("float64")
        classes = manifest["classes"]
        if manifest["task"] == "binary":
            expected = predicted[f"prob_{manifest['positive_class']}"].to_numpy()[:, None]
            decision = np.where(got[:, 0] >= manifest["threshold"], classes[1], classes[0])
            assert manifest["positive_class"] == classes[1]
        else:
            expected = predicted[[f"prob_{c}" for c in classes]].to_numpy()
            decision = np.asarray(classes)[got.argmax(axis=1)]
        largest[fmt] = float(np.abs(got - expected).max())
        assert largest[fmt] <= TOLERANCE, (fmt, largest[fmt])
        assert (decision == predicted.predicted.to_numpy()).all()
    print(f"max |export - predict| for {kind}: {largest}")  # shown with pytest -s


def test_export_replaces_an_earlier_export_but_nothing_else(trained, cli):
    first = cli("export", "demo-1", "--format", "keras", "--out", trained / "mine")
    assert first.exit_code == 0, first.output
    again = cli("export", "demo-1", "--format", "keras", "--out", trained / "mine")
    assert again.exit_code == 0, again.output
    (trained / "notes").mkdir()
    (trained / "notes" / "keep.txt").write_text("mine")
    refused = cli("export", "demo-1", "--format", "keras", "--out", trained / "notes")
    assert refused.exit_code == 2 and "not a dltrain export" in refused.output
    assert (trained / "notes" / "keep.txt").read_text() == "mine"
    assert not list(trained.glob(".*tmp*"))


def test_export_bad_requests(trained, cli, monkeypatch):
    bad = cli("export", "demo-1", "--format", "pickle")
    assert bad.exit_code == 2 and "keras, savedmodel, onnx, tflite" in bad.output
    missing = cli("export", "nosuch-1", "--format", "keras")
    assert missing.exit_code in (2, 4) and "nosuch-1" in missing.output
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if the [onnx] extra were absent
    no_onnx = cli("export", "demo-1", "--format", "onnx", "--out", trained / "o")
    assert no_onnx.exit_code == 2 and "pip install 'dltrain[onnx]'" in no_onnx.output
    assert not (trained / "o").exists()
    monkeypatch.setattr("dltrain.evaluation.export.TOLERANCE", -1.0)  # as if it disagreed
    wrong = cli("export", "demo-1", "--format", "savedmodel", "--out", trained / "w")
    assert wrong.exit_code == 1 and "does not reproduce its model" in wrong.output
    assert "Traceback" not in wrong.output and not (trained / "w").exists()
    assert not list(trained.glob(".w.tmp*")) and not (trained / "runs/demo-1/.lock").exists()
    status = trained / "runs" / "demo-1" / "status.json"
    saved = status.read_text()
    status.write_text(json.dumps({"status": "interrupted"}))
    try:
        unfinished = cli("export", "demo-1", "--format", "keras")
        assert unfinished.exit_code == 4 and "not completed" in unfinished.output
    finally:
        status.write_text(saved)


def test_predict_signals_and_texts_from_csv(workdir, cli):
    """Predict reads series from a CSV (one per row) and texts from a CSV column; the
    same samples as an NPY / a .txt file give the same probabilities."""
    x = make_signals(workdir, n=40, length=30, channels=1)
    config = write_config(
        workdir,
        """
        name: sig
        data: {kind: signals, path: signals.npy, labels: labels.csv}
        model: {architecture: cnn1d, filters: [4]}
        train: {epochs: 1, batch_size: 8, sanity: false}
        evaluate: {bootstrap: 20}
        """,
    )
    assert cli("train", config).exit_code == 0
    table = pd.DataFrame(x[:6, :, 0], columns=[f"t{i}" for i in range(30)])
    table.insert(0, "id", [f"rec{i}" for i in range(6)])
    table.to_csv(workdir / "series.csv", index=False)
    np.save(workdir / "series.npy", x[:6])
    for name, out in (("series.csv", "a.csv"), ("series.npy", "b.csv")):
        assert cli("predict", "sig-1", workdir / name, "--out", workdir / out).exit_code == 0
    a, b = pd.read_csv(workdir / "a.csv"), pd.read_csv(workdir / "b.csv")
    assert a.id.tolist() == [f"rec{i}" for i in range(6)]
    assert np.allclose(a.prob_fast, b.prob_fast, atol=1e-6) and (a.threshold == b.threshold).all()

    rng = np.random.default_rng(0)
    words = {"c": "heart chest pain murmur valve".split(), "n": "seizure brain nerve".split()}
    notes = [" ".join(rng.choice(words[c], 5)) for c in ["c", "n"] * 20]
    pd.DataFrame({"id": range(40), "text": notes, "label": ["c", "n"] * 20}).to_csv(
        workdir / "notes.csv", index=False
    )
    texts = ["chest pain murmur", "seizure and headache", "valve heart"]
    config = write_config(
        workdir,
        """
        name: txt
        data: {kind: text, path: notes.csv, max_tokens: 30, max_length: 6,
               allow_duplicates: true}
        model: {architecture: gru, units: [4], embedding_dim: 4}
        train: {epochs: 1, batch_size: 8, sanity: false}
        evaluate: {bootstrap: 20}
        """,
        "txt.yaml",
    )
    assert cli("train", config).exit_code == 0
    pd.DataFrame({"id": ["a", "b", "c"], "text": texts}).to_csv(workdir / "new.csv", index=False)
    (workdir / "new.txt").write_text("\n".join(texts) + "\n")
    assert cli("predict", "txt-1", workdir / "new.csv", "--out", workdir / "c.csv").exit_code == 0
    assert cli("predict", "txt-1", workdir / "new.txt", "--out", workdir / "d.csv").exit_code == 0
    c, d = pd.read_csv(workdir / "c.csv"), pd.read_csv(workdir / "d.csv")
    assert c.id.tolist() == ["a", "b", "c"] and np.allclose(c.prob_n, d.prob_n, atol=1e-6)
    wrong = pd.DataFrame({"note": texts})
    wrong.to_csv(workdir / "wrong.csv", index=False)
    bad = cli("predict", "txt-1", workdir / "wrong.csv", "--out", workdir / "e.csv")
    assert bad.exit_code == 3 and "'text'" in bad.output
    if HAVE_ONNX:  # recurrent text model: ONNX exports; TFLite needs Select TF ops (exit 2)
        assert cli("export", "txt-1", "--format", "onnx").exit_code == 0
    lite = cli("export", "txt-1", "--format", "tflite")
    assert lite.exit_code == 2 and "onnx or savedmodel" in lite.output
    assert not (workdir / "runs/txt-1/exports/tflite").exists()
