"""Every data kind end to end through the CLI: train, evaluate (test split and external
data), predict new files; multilabel and unsupervised tasks; augmentation only in training;
exact resume across many cache shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import write_config

FAST = ["--set", "train.epochs=2", "--set", "evaluate.bootstrap=30"]


def make_notes(path, per_class: int, words: int, seed=0):
    """Short clinical notes of two learnable classes (cardio, neuro) as a CSV."""
    rng = np.random.default_rng(seed)
    vocab = {"cardio": "heart chest pain murmur valve", "neuro": "headache seizure brain nerve"}
    rows = [
        {"id": i, "text": " ".join(rng.choice(vocab[c].split(), words)), "label": c}
        for i, c in enumerate(["cardio", "neuro"] * per_class)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)


def make_images(folder, per_class=16, size=12, seed=0):
    """Three learnable classes of small grayscale images: bright left, right, or centre."""
    rng = np.random.default_rng(seed)
    for label, cols in {"left": slice(0, 4), "right": slice(8, 12), "centre": slice(4, 8)}.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = rng.integers(0, 60, (size, size)).astype("uint8")
            img[:, cols] += 150
            Image.fromarray(img).save(folder / label / f"{i:03d}.png")


def make_signals(folder, n=60, length=40, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array(["slow", "fast"])[np.arange(n) % 2]
    t = np.linspace(0, 1, length)
    freq = np.where(labels == "slow", 2.0, 6.0)[:, None]
    wave = np.sin(2 * np.pi * freq * t[None, :])
    x = np.stack([wave, np.cos(2 * np.pi * freq * t[None, :])][:channels], axis=-1)
    x = (x + 0.2 * rng.normal(size=x.shape)).astype("float32")
    np.save(folder / "signals.npy", x)
    pd.DataFrame(
        {
            "id": np.arange(n),
            "label": labels,
            "patient": [f"p{i // 3}" for i in range(n)],
            "afib": (np.arange(n) % 2),
            "pvc": (np.arange(n) % 3 == 0).astype(int),
        }
    ).to_csv(folder / "labels.csv", index=False)
    return x


def _run(workdir, name):
    return workdir / "runs" / name


def _metrics(workdir, name):
    return json.loads((_run(workdir, name) / "metrics.json").read_text())


@pytest.mark.slow
def test_images_train_evaluate_predict(workdir, cli):
    make_images(workdir / "imgs")
    config = write_config(
        workdir,
        """
        name: img
        data:
          kind: images
          path: imgs
          size: [12, 12]
          augment: [{flip: horizontal}, {rotation: 0.02}]
        model: {architecture: cnn, filters: [4, 8]}
        train: {epochs: 2, batch_size: 8}
        evaluate: {bootstrap: 30}
    """,
    )
    result = cli("train", config)
    assert result.exit_code == 0, result.output
    m = _metrics(workdir, "img-1")
    assert m["task"] == "multiclass" and m["classes"] == ["centre", "left", "right"]
    assert (_run(workdir, "img-1") / "report.html").exists()
    grid = _run(workdir, "img-1") / "plots/augmented_batch.png"
    assert grid.read_bytes()[:4] == b"\x89PNG"
    assert "augmented_batch.png" in (_run(workdir, "img-1") / "report.html").read_text()
    result = cli("evaluate", "img-1")
    assert result.exit_code == 0, result.output
    again = json.loads((_run(workdir, "img-1") / "evaluations/test.json").read_text())
    assert again["test"] == m["test"]
    result = cli("evaluate", "img-1", "--data", workdir / "imgs")
    assert result.exit_code == 0 and "imgs" in result.output
    result = cli("predict", "img-1", workdir / "imgs" / "left", "--out", workdir / "p.csv")
    assert result.exit_code == 0, result.output
    preds = pd.read_csv(workdir / "p.csv")
    assert len(preds) == 16 and {"prob_left", "prob_right", "prob_centre"} <= set(preds.columns)
    one = cli("predict", "img-1", workdir / "imgs/left/000.png", "--out", workdir / "one.csv")
    assert one.exit_code == 0 and len(pd.read_csv(workdir / "one.csv")) == 1
    (workdir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    bad = cli("predict", "img-1", workdir / "broken.png", "--out", workdir / "b.csv")
    assert bad.exit_code == 3 and "broken.png" in bad.output


def test_augmentation_is_seeded_in_the_model_and_inert_at_inference(workdir, cli):
    make_images(workdir / "imgs", per_class=8)
    config = write_config(
        workdir,
        """
        name: aug
        data: {kind: images, path: imgs, size: [12, 12], augment: [{flip: horizontal},
               {translation: 0.2}, {contrast: 0.3}]}
        model: {architecture: cnn, filters: [4]}
        train: {epochs: 1, batch_size: 8, sanity: false}
        evaluate: {bootstrap: 30}
    """,
    )
    assert cli("train", config).exit_code == 0
    import keras

    model = keras.saving.load_model(_run(workdir, "aug-1") / "model.keras", safe_mode=True)
    names = [layer.__class__.__name__ for layer in model.layers]
    assert names[:5] == [
        "InputLayer",
        "RandomFlip",
        "RandomTranslation",
        "RandomContrast",
        "Normalization",
    ]
    x = np.random.default_rng(0).integers(0, 255, (4, 12, 12, 1)).astype("float32")
    assert np.array_equal(model(x, training=False), model(x, training=False))
    assert not np.allclose(model(x, training=True), model(x, training=False))


@pytest.mark.slow
def test_signals_grouped_with_external_evaluation(workdir, cli):
    make_signals(workdir)
    config = write_config(
        workdir,
        """
        name: sig
        data:
          kind: signals
          path: signals.npy
          labels: labels.csv
          group: patient
          split: {method: group, val: 0.2, test: 0.2}
          augment: [{noise: 0.05}, {scale: [0.9, 1.1]}, {shift: 0.1}, {crop: 0.9}]
        model: {architecture: cnn1d, filters: [4, 8]}
        train: {epochs: 2, batch_size: 8}
        evaluate: {bootstrap: 30}
    """,
    )
    result = cli("train", config)
    assert result.exit_code == 0, result.output
    rows = json.loads((_run(workdir, "sig-1") / "dataset.json").read_text())["rows"]
    patients = pd.read_csv(workdir / "labels.csv").patient.to_numpy()
    owners = {s: set(patients[rows[s]]) for s in rows}
    assert not owners["train"] & owners["test"] and not owners["val"] & owners["test"]
    new = workdir / "new"
    new.mkdir()
    make_signals(new, n=12, seed=3)
    result = cli("evaluate", "sig-1", "--data", new / "signals.npy", "--labels", new / "labels.csv")
    assert result.exit_code == 0, result.output
    result = cli("predict", "sig-1", new / "signals.npy", "--out", workdir / "p.csv")
    assert result.exit_code == 0 and len(pd.read_csv(workdir / "p.csv")) == 12
    np.save(workdir / "one.npy", np.zeros((40, 2), dtype="float32"))
    assert cli("predict", "sig-1", workdir / "one.npy", "--out", workdir / "o.csv").exit_code == 0
    np.save(workdir / "wrong.npy", np.zeros((5, 40, 3), dtype="float32"))
    wrong = cli("predict", "sig-1", workdir / "wrong.npy", "--out", workdir / "w.csv")
    assert wrong.exit_code == 3 and "channel" in wrong.output


@pytest.mark.slow
def test_multilabel_signals(workdir, cli):
    make_signals(workdir)
    config = write_config(
        workdir,
        """
        name: ml
        data: {kind: signals, path: signals.npy, labels: labels.csv, target: [afib, pvc],
               split: {method: random}}
        model: {architecture: gru, units: [4]}
        train: {epochs: 2, batch_size: 8}
        evaluate: {bootstrap: 30}
    """,
    )
    result = cli("train", config)
    assert result.exit_code == 0, result.output
    m = _metrics(workdir, "ml-1")
    assert m["task"] == "multilabel" and m["classes"] == ["afib", "pvc"]
    assert set(m["test"]) == {"accuracy", "roc_auc", "pr_auc", "f1", "brier"}
    preds = pd.read_csv(_run(workdir, "ml-1") / "predictions/test.csv")
    assert {"prob_afib", "prob_pvc", "predicted", "true"} <= set(preds.columns)


def test_unsupervised_autoencoder_scores_anomalies(workdir, cli):
    make_signals(workdir)
    config = write_config(
        workdir,
        """
        name: ae
        data: {kind: signals, path: signals.npy, labels: labels.csv, target: null,
               split: {method: random}}
        model: {architecture: autoencoder, kind: conv, filters: [4], latent: 4}
        train: {epochs: 2, batch_size: 8}
        evaluate: {bootstrap: 30}
    """,
    )
    result = cli("train", config)
    assert result.exit_code == 0, result.output
    m = _metrics(workdir, "ae-1")
    assert m["task"] == "reconstruction" and set(m["test"]) == {"mse"}
    assert set(m["baselines"]) == {"mean", "pca"}
    preds = pd.read_csv(_run(workdir, "ae-1") / "predictions/test.csv")
    assert list(preds.columns) == ["id", "row", "reconstruction_error"]
    result = cli("predict", "ae-1", workdir / "signals.npy", "--out", workdir / "p.csv")
    assert (
        result.exit_code == 0 and (pd.read_csv(workdir / "p.csv").reconstruction_error >= 0).all()
    )
    no_target = cli("train", config, "--set", "model={architecture: cnn1d}")
    assert no_target.exit_code == 2 and "only architecture 'autoencoder'" in no_target.output


@pytest.mark.slow
def test_text_and_volumes(workdir, cli):
    rng = np.random.default_rng(0)
    make_notes(workdir / "notes.csv", per_class=20, words=4)
    config = write_config(
        workdir,
        """
        name: txt
        data: {kind: text, path: notes.csv, max_tokens: 50, max_length: 8}
        model: {architecture: lstm, units: [4], embedding_dim: 8}
        train: {epochs: 2, batch_size: 8}
        evaluate: {bootstrap: 30}
    """,
    )
    result = cli("train", config)
    assert result.exit_code == 0, result.output
    vocab = json.loads((_run(workdir, "txt-1") / "preprocessing.json").read_text())["vocabulary"]
    assert "heart" in vocab and "seizure" in vocab
    (workdir / "new.txt").write_text("chest pain and murmur\n\nsudden seizure\n")
    result = cli("predict", "txt-1", workdir / "new.txt", "--out", workdir / "p.csv")
    assert result.exit_code == 0 and len(pd.read_csv(workdir / "p.csv")) == 2

    volumes = rng.normal(size=(30, 6, 6, 6)).astype("float32")
    labels = np.arange(30) % 2
    volumes[labels == 1, :3] += 2.0
    np.save(workdir / "vol.npy", volumes)
    pd.DataFrame({"id": np.arange(30), "label": labels}).to_csv(workdir / "vol.csv", index=False)
    config = write_config(
        workdir,
        """
        name: vol
        data: {kind: volumes, path: vol.npy, labels: vol.csv, augment: [{flip: vertical},
               {noise: 0.1}]}
        model: {architecture: cnn3d, filters: [4]}
        train: {epochs: 2, batch_size: 8}
        evaluate: {bootstrap: 30}
    """,
        "vol.yaml",
    )
    result = cli("train", config)
    assert result.exit_code == 0, result.output
    assert _metrics(workdir, "vol-1")["task"] == "binary"
    result = cli("predict", "vol-1", workdir / "vol.npy", "--out", workdir / "v.csv")
    assert result.exit_code == 0 and len(pd.read_csv(workdir / "v.csv")) == 30


@pytest.mark.slow
def test_resume_is_exact_across_shards(workdir, cli):
    make_images(workdir / "imgs", per_class=30)
    config = write_config(
        workdir,
        """
        name: shard
        data: {kind: images, path: imgs, size: [12, 12], shard_size: 16,
               augment: [{flip: horizontal}]}
        model: {architecture: cnn, filters: [4]}
        train: {epochs: 12, batch_size: 6, sanity: false, early_stopping: null,
                checkpoint_every: 3, steps_per_execution: 3}
        evaluate: {bootstrap: 30}
    """,
    )
    assert cli("preprocess", config).exit_code == 0
    manifest = next((workdir / "data/processed").glob("images-*/manifest.json"))
    assert len(json.loads(manifest.read_text())["split"]["train"]["shard_sizes"]) >= 3
    env = {**os.environ, "DLTRAIN_RUNS": str(workdir / "reference")}
    assert (
        subprocess.run(
            [sys.executable, "-m", "dltrain", "train", str(config)],
            cwd=workdir,
            env=env,
            capture_output=True,
            timeout=300,
        ).returncode
        == 0
    )
    env["DLTRAIN_RUNS"] = str(workdir / "runs")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dltrain", "train", str(config)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    listing = workdir / "runs/shard-1/checkpoints/manifest.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if listing.exists() and any(
            c["epoch"] >= 2 and c["step"] > 0
            for c in json.loads(listing.read_text() or "{}").get("checkpoints", [])
        ):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    result = cli("resume", "shard-1")
    assert result.exit_code == 0, result.output
    import keras

    ref = keras.saving.load_model(workdir / "reference/shard-1/model.keras").get_weights()
    got = keras.saving.load_model(workdir / "runs/shard-1/model.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(ref, got, strict=True))
    assert (workdir / "runs/shard-1/history.csv").read_text() == (
        workdir / "reference/shard-1/history.csv"
    ).read_text()
