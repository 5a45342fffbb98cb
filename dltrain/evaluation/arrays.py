"""`evaluate` and `predict` for images, signals, text and volumes.

Labelled data (the run's own test samples, or `--data` with the same layout as the
training data) goes through the same reader as training; unlabelled input for
`predict` is a file or a folder: an image or a folder of images, an .npy/.npz of
series (or one series) or a CSV with one series per row, a .txt file (one text
per line) or a CSV with the text column, an .npy of volumes (or one volume).

Every input file must be a regular file within its format's size limit, and a folder
may hold nothing else (a FIFO, a socket, a device): see `dltrain.data.inputfiles`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dltrain.data import inputfiles, tabular
from dltrain.errors import DataError, UsageError

CHUNK = 512
FIX = "give predict a file or a folder of files"


def scores_of(run, raw: np.ndarray, task: str) -> np.ndarray:
    """Model scores of raw samples, a chunk at a time (reconstruction: per-sample MSE)."""
    from dltrain.evaluation.predict import model_scores

    t = run.transform
    out = []
    for start in range(0, len(raw), CHUNK):
        x = t.inputs(raw[start : start + CHUNK])
        s = model_scores(run.model, x)
        if task == "reconstruction":
            target = (x - np.asarray(t.channel_mean, dtype="float32")) / np.sqrt(
                np.asarray(t.channel_var, dtype="float32")
            )
            s = np.mean((s.reshape(len(x), -1) - target.reshape(len(x), -1)) ** 2, axis=1)
        out.append(s)
    scores = np.concatenate(out)
    return t.target_values(scores) if task == "regression" else scores


def labelled(run, data: Path | None, labels: Path | None):
    """(raw inputs, truth, ids, groups, label) of the test split or of external data."""
    from dltrain import records
    from dltrain.config import load_config
    from dltrain.data.cache import sha256_files, source_files
    from dltrain.data.sources import read_samples

    source = run.dataset["source"]
    path, recorded_labels = records.data_source(run.dataset)
    origin = f"{run.dir / 'dataset.json'} (where the run found its data)"
    given = {"data.path": (str(data or path), "--data" if data else origin)}
    if labels is not None or (data is None and recorded_labels):
        given["data.labels"] = (str(labels or recorded_labels), "--labels" if labels else origin)
    elif data is not None:
        given["data.labels"] = (None, "--data")
    config = load_config(run.dir / "config.yaml", recorded=given)
    if data is None:
        if sha256_files(source_files(config)) != source["sha256"]:
            raise DataError(
                f"the data under {path} has changed since run {run.id} was trained "
                "(its SHA-256 differs), so its test split can no longer be trusted; restore the "
                "original files, or evaluate on the new data as external data with --data"
            )
    samples = read_samples(config)
    rows = (
        np.asarray(run.dataset["rows"]["test"], dtype="int64")
        if data is None
        else np.arange(len(samples))
    )
    raw = samples.load(rows)
    truth = encode_truth(run, samples, rows)
    group = config.data.group
    groups = samples.table[group].astype(str).to_numpy()[rows] if group else None
    label = "test split" if data is None else str(data)
    return raw, truth, samples.table["id"].to_numpy()[rows], groups, label


def encode_truth(run, samples, rows: np.ndarray) -> np.ndarray:
    """The targets of `rows` in the run's own encoding (its classes, in its order)."""
    t = run.transform
    cfg = run.config.data
    task = run.dataset["task"]
    if task == "reconstruction" or cfg.target is None:
        return np.zeros(len(rows), dtype="int64")
    table = samples.table.iloc[rows].reset_index(drop=True)
    if task == "multilabel":
        from dltrain.data.targets import encode

        return encode(table, cfg.target, "multilabel", None, run.config, samples.where).y
    column = table[cfg.target]
    if task == "regression":
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
    index = {c: i for i, c in enumerate(t.classes)}
    codes = tabular.class_labels(column).map(index)
    unknown = np.flatnonzero(codes.isna().to_numpy())
    if len(unknown):
        raise DataError(
            f"{len(unknown)} sample(s) have a {cfg.target!r} value that is not one of the trained "
            f"classes ({', '.join(t.classes)}):",
            details=[f"{samples.where(int(rows[i]))}: {column.iloc[i]!r}" for i in unknown[:20]],
        )
    return codes.to_numpy(dtype="int64")


def unlabelled(run, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids, raw inputs) of new data for `predict`."""
    t = run.transform
    path = Path(path)
    if not path.exists():
        raise DataError(f"input not found: {path}")
    if not path.is_dir():
        inputfiles.check(path, fix=FIX)
    if t.kind == "images":
        return _images(run, path)
    if t.kind == "text":
        return _texts(run, path)
    if t.kind == "signals" and path.suffix.lower() == ".csv":
        frame = _csv(path)
        ids = (
            frame.pop("id").astype(str).to_numpy()
            if "id" in frame.columns
            else np.arange(1, len(frame) + 1).astype(str)
        )
        values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
        if not np.isfinite(values).all():
            bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
            raise DataError(
                f"{len(bad)} series in {path} have empty or non-numeric values:",
                details=[f"{path}:{i + 2}" for i in bad[:20]],
            )
        return ids, fit_length(values[..., None], t)
    files = (
        [
            p
            for p in inputfiles.regular_files(path, what="the folder")
            if p.suffix in (".npy", ".npz")
        ]
        if path.is_dir()
        else [path]
    )
    if not files:
        raise DataError(f"no .npy or .npz files in {path}")
    arrays, ids = [], []
    for file in files:
        array = as_batch(_array(file), t, file)
        name = file.name if path.is_file() else str(file.relative_to(path))
        ids += [name] if len(array) == 1 else [f"{name}[{i}]" for i in range(len(array))]
        arrays.append(array)
    raw = np.concatenate(arrays).astype("float32")
    if not np.isfinite(raw).all():
        raise DataError(f"{path} contains NaN or infinite values")
    if t.kind == "signals":
        raw = fit_length(raw, t)
    if tuple(raw.shape[1:]) != tuple(t.shape):
        raise DataError(
            f"{path}: samples of shape {raw.shape[1:]} do not fit the model's input "
            f"{tuple(t.shape)}"
        )
    return np.asarray(ids), raw


def as_batch(array: np.ndarray, t, file: Path) -> np.ndarray:
    """One sample or a batch of samples, with the channel axis: (n, *sample shape)."""
    sample_ndim = len(t.shape)  # signals (length, channels): 2; volumes (d, h, w, c): 4
    channels = t.shape[-1]
    if array.ndim == sample_ndim - 1:  # one sample without its channel axis
        return array[None, ..., None]
    if array.ndim == sample_ndim:  # a batch without channels, or one sample with them
        return array[..., None] if channels == 1 else array[None]
    if array.ndim == sample_ndim + 1:
        return array
    raise DataError(
        f"{file} has shape {array.shape}; expected one {t.kind[:-1]} of shape {tuple(t.shape)} "
        "or a batch of them"
    )


def _array(path: Path) -> np.ndarray:
    """An .npy, or the first array of an .npz, loaded whole: within `inputfiles.ARRAY`."""
    inputfiles.check(path, fix=FIX)
    try:
        if not inputfiles.is_npz(path):
            too_large = inputfiles.npy_problem(path)  # from the header
            if too_large is not None:
                raise DataError(too_large, where=str(path))
        loaded = np.load(path, allow_pickle=False)
        if hasattr(loaded, "files"):
            with loaded:
                if not loaded.files:
                    raise DataError("the .npz file holds no array", where=str(path))
                too_large = inputfiles.npz_member(loaded, loaded.files[0])
                if too_large is not None:
                    raise DataError(too_large, where=str(path))
                return np.asarray(loaded[loaded.files[0]])
        return np.asarray(loaded)
    except DataError:
        raise
    except (OSError, ValueError, EOFError, inputfiles.BAD_ZIP) as exc:
        raise DataError(f"cannot read {path} as a NumPy array: {exc}") from None


def _csv(path: Path, **options) -> pd.DataFrame:
    """A CSV input of predict, within `inputfiles.CSV`; a parse failure is a `DataError`."""
    inputfiles.check(path, inputfiles.CSV, fix=FIX)
    try:
        return pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise DataError(
            "the file is empty; it needs a header line and rows", where=str(path)
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise DataError(f"cannot read the file as CSV: {exc}", where=str(path)) from None


def fit_length(series: np.ndarray, t) -> np.ndarray:
    """Series (n, length, channels) brought to the trained length as training did."""
    length, mode = t.shape[0], t.info.get("fit", "pad")
    n, have, channels = series.shape
    if channels != t.shape[1]:
        raise DataError(f"series have {channels} channel(s); the model was trained on {t.shape[1]}")
    if have == length:
        return series.astype("float32")
    if mode == "resample":
        old = np.linspace(0, 1, have)
        new = np.linspace(0, 1, length)
        out = np.stack(
            [np.stack([np.interp(new, old, s[:, c]) for c in range(channels)], -1) for s in series]
        )
        return out.astype("float32")
    if have > length:
        return series[:, :length].astype("float32")
    if mode == "crop":
        raise DataError(
            f"series of length {have} are shorter than the trained length {length} "
            "(data.fit: crop pads nothing)"
        )
    out = np.zeros((n, length, channels), dtype="float32")
    out[:, :have] = series
    return out


def _images(run, path: Path):
    from dltrain.data.readers.images import SUFFIXES, pixels

    files = (
        [path]
        if not path.is_dir()
        else [
            p
            for p in inputfiles.regular_files(path, what="the folder")
            if p.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
    )
    if not files:
        raise DataError(f"no PNG or JPEG images in {path}")
    size = tuple(run.config.data.size)
    rgb = run.transform.shape[-1] == 3
    out, bad = [], []
    for file in files:
        try:
            out.append(pixels(file, size, rgb))
        except DataError as exc:  # not a regular file, too many pixels: refused undecoded
            bad.append(str(exc))
        except Exception as exc:  # noqa: BLE001 — every unreadable file is listed
            bad.append(f"{file}: {type(exc).__name__}: {exc}")
    if bad:
        raise DataError(f"{len(bad)} image(s) cannot be read:", details=bad[:20])
    ids = [f.name if path.is_file() else str(f.relative_to(path)) for f in files]
    return np.asarray(ids), np.stack(out)


def _texts(run, path: Path):
    if path.suffix.lower() == ".csv":
        frame = _csv(path, dtype=str, keep_default_na=False)
        column = run.config.data.text
        if column not in frame.columns:
            raise DataError(f"{path} has no {column!r} column (the text column of the run)")
        ids = (
            frame["id"].to_numpy()
            if "id" in frame.columns
            else np.arange(1, len(frame) + 1).astype(str)
        )
        return np.asarray(ids), frame[column].to_numpy(dtype=object)
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a .txt (one text per line) or a .csv file")
    inputfiles.check(path, inputfiles.TEXT, fix=FIX)
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    return np.arange(1, len(lines) + 1).astype(str), np.asarray(lines, dtype=object)
