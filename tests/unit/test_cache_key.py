"""The cache key is the data and the preprocessing that shape it: one folder per data, not
per experiment name, and folders of an older dltrain are still found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from dltrain.config import load_config
from dltrain.data import cache
from dltrain.data.cache import preprocess
from tests.conftest import BASIC_CONFIG, write_config

CACHE = Path("data/processed")


def folders() -> list[str]:
    return sorted(p.name for p in CACHE.iterdir() if not p.name.startswith("."))


def test_experiments_on_the_same_data_share_one_folder(tabular_experiment, workdir):
    first = preprocess(load_config(tabular_experiment))
    other = BASIC_CONFIG.replace("name: demo", "name: another-study")
    other = other.replace("hidden_units: [8]", "hidden_units: [4, 4]").replace(
        "epochs: 2", "epochs: 9"
    )
    renamed = preprocess(load_config(write_config(workdir, other, "other.yaml")))
    named = preprocess(load_config(tabular_experiment, ["name=x"]))  # what `train --name x` does
    assert renamed.hit and named.hit
    assert renamed.path == named.path == first.path
    assert folders() == [first.path.name]
    assert "name" not in first.manifest  # the cache belongs to the data, not an experiment


SIGNALS = """
name: ecg
data: {{kind: signals, path: {path}, labels: {labels}}}
model: {{architecture: cnn1d, filters: [2]}}
"""


def test_the_data_given_by_another_path_is_the_same_cache(workdir):
    """Relative or absolute, `data.path` and `data.labels` say where the data lies, not
    what it is: the bytes and the files' places relative to each other are in the key."""
    rng = np.random.default_rng(0)
    np.save(workdir / "ecg.npy", rng.normal(size=(30, 16, 1)).astype("float32"))
    (workdir / "labels.csv").write_text(
        "id,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(30))
    )
    relative = SIGNALS.format(path="ecg.npy", labels="labels.csv")
    absolute = SIGNALS.format(path=workdir / "ecg.npy", labels=workdir / "labels.csv")
    first = preprocess(load_config(write_config(workdir, relative, "a.yaml")))
    again = preprocess(load_config(write_config(workdir, absolute, "b.yaml")))
    assert again.hit and again.path == first.path


def _images(root: Path) -> None:
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(
                root / label / f"{i}.png"
            )


IMAGES = """
name: {name}
data:
  kind: images
  path: imgs
  size: [8, 8]
  augment: {augment}
model: {{architecture: cnn, filters: [2]}}
"""


def test_augmentation_does_not_change_the_folder(workdir):
    """Augmentation runs in the model on training batches: the cached arrays are the same."""
    _images(workdir / "imgs")
    plain = load_config(write_config(workdir, IMAGES.format(name="a", augment="[]"), "a.yaml"))
    flipped = IMAGES.format(name="b", augment="[{flip: horizontal}, {rotation: 0.1}]")
    augmented = load_config(write_config(workdir, flipped, "b.yaml"))
    first = preprocess(plain)
    second = preprocess(augmented)
    assert second.hit and second.path == first.path
    assert first.path.name.startswith("images-")
    resized = IMAGES.format(name="a", augment="[]").replace("size: [8, 8]", "size: [6, 6]")
    other = preprocess(load_config(write_config(workdir, resized, "c.yaml")))
    assert not other.hit and other.path != first.path  # what shapes the arrays still counts


def test_a_folder_named_by_an_older_dltrain_is_found(workdir):
    """Before: `<experiment name>-<fingerprint>`, the fingerprint also covering `augment`."""
    _images(workdir / "imgs")
    text = IMAGES.format(name="ecg-study", augment="[{flip: horizontal}]")
    config = load_config(write_config(workdir, text))
    built = preprocess(config)
    sha = cache.sha256_files(sorted(p for p in (workdir / "imgs").rglob("*.png")))
    old_key = cache.fingerprint(config, sha, exclude={"path"})
    assert old_key != cache.fingerprint(config, sha)
    old = CACHE / f"ecg-study-{old_key}"
    shutil.move(built.path, old)
    found = preprocess(config)
    assert found.hit and found.path == old
    assert found.manifest == json.loads((old / "manifest.json").read_text())
    assert folders() == [old.name]  # nothing built again
