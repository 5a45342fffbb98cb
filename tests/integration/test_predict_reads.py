"""`predict` reads a file to the same model input that training fed for it, for every kind.

Training's inputs are taken from the cache it trains from (the shards, as the input
pipeline turns them into batches); predict's are what `dltrain predict` gives the model
(`DataKind.read_new`, then `DataKind.inputs`), on the same files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dltrain.config import load_config
from dltrain.data.cache import preprocess
from dltrain.kinds import kind_of
from tests.conftest import make_table, write_config
from tests.integration.test_kinds import make_images, make_notes, make_signals


def trained_inputs(config):
    """{id: the model input training fed} of every sample, from the cache's shards."""
    data = preprocess(config)
    out = {}
    for name in ("train", "val", "test"):
        split = data.split(name)
        x = split.x.astype("float32") if split.x.dtype == np.uint8 else split.x
        out.update(zip(split.ids.tolist(), x, strict=True))
    return data.transform, out


def predicted_inputs(config, transform, path):
    """{id: the model input predict feeds} of the samples in `path`."""
    kind = kind_of(config.data.kind)
    samples = kind.read_new(path, config, transform)
    x = kind.inputs(transform, samples, samples.load(np.arange(len(samples))))
    return dict(zip([str(i) for i in kind.sample_ids(samples)], x, strict=True))


def same(trained: dict, predicted: dict, key=lambda i: i) -> None:
    assert predicted
    for sample_id, x in predicted.items():
        assert x.dtype == trained[key(sample_id)].dtype
        assert np.array_equal(x, trained[key(sample_id)]), sample_id


def config_of(workdir, data: str, model: str):
    return load_config(write_config(workdir, f"name: t\ndata: {data}\nmodel: {model}\n"))


def test_tabular(workdir):
    make_table(n=60, missing=True).to_csv(workdir / "table.csv", index=False)
    config = config_of(
        workdir,
        "{kind: tabular, path: table.csv, target: outcome, id: patient}",
        "{architecture: mlp}",
    )
    transform, trained = trained_inputs(config)
    make_table(n=60, missing=True).drop(columns="outcome").to_csv(workdir / "new.csv", index=False)
    same(trained, predicted_inputs(config, transform, workdir / "new.csv"))


def test_images_rgb_resized(workdir):
    make_images(workdir / "imgs", per_class=8)
    Image.fromarray(np.full((12, 12, 3), (200, 10, 10), dtype="uint8")).save(
        workdir / "imgs/left/red.png"
    )
    config = config_of(workdir, "{kind: images, path: imgs, size: [7, 9]}", "{architecture: cnn}")
    transform, trained = trained_inputs(config)
    assert transform.shape == [7, 9, 3]
    same(trained, predicted_inputs(config, transform, workdir / "imgs"))
    one = predicted_inputs(config, transform, workdir / "imgs/left/red.png")
    same(trained, one, key=lambda i: f"left/{i}")


@pytest.mark.parametrize("fit", ["pad", "crop", "resample"])
def test_signals_array_at_the_fitted_length(workdir, fit):
    make_signals(workdir, n=30, length=40)
    config = config_of(
        workdir,
        f"{{kind: signals, path: signals.npy, labels: labels.csv, length: 33, fit: {fit}}}",
        "{architecture: cnn1d}",
    )
    transform, trained = trained_inputs(config)
    predicted = predicted_inputs(config, transform, workdir / "signals.npy")
    same(trained, predicted, key=lambda i: i.removeprefix("signals.npy[").removesuffix("]"))


def test_signals_csv_of_ragged_series(workdir):
    rng = np.random.default_rng(1)
    rows = [
        {"id": f"r{i}", **{f"t{j}": round(float(rng.normal()), 3) for j in range(6 + i % 4)}}
        for i in range(30)
    ]
    values = pd.DataFrame(rows)
    values.assign(label=["a", "b"] * 15).to_csv(workdir / "series.csv", index=False)
    values.to_csv(workdir / "new.csv", index=False)
    config = config_of(
        workdir, "{kind: signals, path: series.csv, fit: resample}", "{architecture: cnn1d}"
    )
    transform, trained = trained_inputs(config)
    same(trained, predicted_inputs(config, transform, workdir / "new.csv"))


def test_text_csv(workdir):
    make_notes(workdir / "notes.csv", per_class=15, words=4)
    config = config_of(
        workdir,
        "{kind: text, path: notes.csv, max_tokens: 20, max_length: 5, allow_duplicates: true}",
        "{architecture: gru}",
    )
    transform, trained = trained_inputs(config)
    same(trained, predicted_inputs(config, transform, workdir / "notes.csv"))


def test_volumes_files(workdir):
    rng = np.random.default_rng(2)
    (workdir / "vols").mkdir()
    for i in range(24):
        np.save(workdir / f"vols/v{i}.npy", rng.normal(size=(3, 4, 5)).astype("float64"))
    labels = pd.DataFrame({"id": [f"v{i}" for i in range(24)], "label": [0, 1] * 12})
    labels.to_csv(workdir / "labels.csv", index=False)
    config = config_of(
        workdir, "{kind: volumes, path: vols, labels: labels.csv}", "{architecture: cnn3d}"
    )
    transform, trained = trained_inputs(config)
    predicted = predicted_inputs(config, transform, workdir / "vols")
    same(trained, predicted, key=lambda i: i.removesuffix(".npy"))
