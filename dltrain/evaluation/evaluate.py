"""`dltrain evaluate` and `dltrain predict`: a finished run applied to data again.

Both use only what the run folder holds: its resolved config, its fitted
preprocessing (preprocessing.json), its model (model.keras, loaded in safe
mode), its recalibration map when it has one (calibration.json) and its record of the
splits (dataset.json). Data is read by the run's data kind
(`dltrain.kinds`): labelled data through the reader training used, new data for `predict`
through the same decoders and fitting, brought to the run's fitted shape.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from dltrain import records, runs, tasks
from dltrain.config import load_config
from dltrain.data import tabular
from dltrain.data.cache import sha256_file, split_hash
from dltrain.errors import DataError, UsageError
from dltrain.evaluation import calibration
from dltrain.evaluation.predict import load_model, model_scores, write_predictions
from dltrain.evaluation.scoring import score_split
from dltrain.kinds import kind_of, load_transform

CHUNK = 512


class FinishedRun(records.Run):
    """A completed run, with what evaluation and prediction need: its fitted preprocessing
    and its model, each checked against the run's manifest."""

    def __init__(self, run_id: str):
        super().__init__(runs.resolve_run(run_id))
        self.completed("a final model to evaluate")
        self.transform = load_transform(self.verified("preprocessing.json"))
        self.task = self.dataset.fitted_task

    @cached_property
    def model(self):
        return load_model(self.verified("model.keras"))

    @cached_property
    def recalibration(self) -> dict | None:
        """The recalibration map fitted on validation (calibration.json), or None."""
        return calibration.load(self.dir)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """The model's scores of inputs `x`, recalibrated as at training time."""
        return calibration.apply(self.recalibration, model_scores(self.model, x))

    def read(self, path: Path):
        cfg = self.config.data.model_copy(update={"format": "auto"})
        return tabular.read_table(path, cfg)


def evaluate_run(run_id: str, data: Path | None = None, labels: Path | None = None) -> dict:
    """Test metrics of a run recomputed from its saved model, or metrics on external data.

    Without `data` the run's own test rows are re-read from the source file; the
    source's SHA-256 and the test split's content hash must match those recorded
    at training time, or the evaluation is refused.
    """
    run = FinishedRun(run_id)
    t = run.transform
    if run.config.data.kind != "tabular":
        samples, rows, label = labelled(run, data, labels)
        y = encode_truth(run, samples, rows)
        group = samples.table[run.config.data.group] if run.config.data.group else None
        groups = group.astype(str).to_numpy()[rows] if group is not None else None
        return _scored(run, y, scores_of(run, samples, rows, run.task), groups, label, data)
    if labels is not None:
        raise UsageError(
            "--labels is for images, signals, text and volumes; a table holds its own labels"
        )
    if data is None:
        source = Path(records.data_source(run.dataset)[0])
        if not source.is_file():
            raise DataError(
                f"the run's source data {source} no longer exists; "
                "evaluate it on a file with --data"
            )
        if sha256_file(source) != run.dataset.source.sha256:
            raise DataError(
                f"{source} has changed since run {run_id} was trained (its SHA-256 differs), "
                "so its test split can no longer be trusted; restore the original file, or "
                "evaluate on the new file as external data with --data"
            )
        frame = run.read(source)
        rows = np.asarray(run.dataset.rows["test"], dtype="int64")
        frame = frame.iloc[rows]
        label = "test split"
    else:
        source = data
        frame = run.read(source)
        if t.target not in frame.columns:
            raise DataError(
                f"{source} has no {t.target!r} column; evaluation needs the true values "
                f"(use `dltrain predict {run_id} {source}` for unlabelled data)"
            )
        rows = np.arange(len(frame))
        label = str(source)
    tabular.missing_rows(frame.reset_index(drop=True), t.target, source, "target")
    x, _ = t.features(frame, source)
    y = t.labels(frame, source)
    if data is None and split_hash(rows, x, y) != run.dataset.split["test"]["sha256"]:
        raise DataError(
            f"the test split of run {run_id} re-read from {source} does not match the one it was "
            "tested on (content hash differs); it cannot be evaluated honestly"
        )
    scores = run.scores(x)
    if tasks.get(t.task).standardised:
        y, scores = t.target_values(y), t.target_values(scores)
    group = run.config.data.group
    groups = frame[group].astype(str).to_numpy() if group and group in frame.columns else None
    return _scored(run, y, scores, groups, label, data)


def _scored(run, y, scores, groups, label: str, data: Path | None) -> dict:
    """Metrics with CIs at the run's frozen threshold; saved under evaluations/."""
    ev = run.config.evaluate
    classes = run.metrics.classes
    threshold = run.metrics.threshold or 0.5
    scored = score_split(run.config, run.task, classes, threshold, y, scores, groups, 2)
    result = {
        "task": run.task,
        "data": label,
        "rows": int(len(y)),
        "threshold": run.metrics.threshold,
        "positive_class": run.metrics.positive_class,
        "bootstrap": ev.bootstrap,
        "confidence": ev.confidence,
        "test": scored["metrics"],
        **{k: {"test": v} for k, v in scored.items() if k not in ("metrics", "warnings")},
        "warnings": scored.get("warnings", []),
    }
    out_name = "test" if data is None else Path(data).stem
    runs.write_json(
        runs.run_subdir(run.dir, "evaluations") / f"{_safe_name(out_name)}.json", result
    )
    return result


def predict_file(run_id: str, input: Path, out: Path) -> tuple[int, dict[str, int]]:
    """Writes predictions for every row of `input`; returns (rows, unseen categories)."""
    run = FinishedRun(run_id)
    if Path(out).resolve() == Path(input).resolve():
        raise UsageError(f"--out {out} is the input file; choose another file name")
    kind = kind_of(run.config.data.kind)
    samples = kind.read_new(Path(input), run.config, run.transform)
    if len(samples) == 0:
        raise DataError(f"{input} holds no samples to predict")
    ids = kind.sample_ids(samples)
    scores = scores_of(run, samples, np.arange(len(samples)), run.task)
    write_predictions(
        Path(out),
        ids,
        np.arange(len(ids)),
        None,
        scores,
        run.task,
        run.metrics.classes,
        run.metrics.threshold or 0.5,
        with_threshold=True,
    )
    return len(ids), samples.info.get("unseen", {})


def scores_of(run, samples, rows: np.ndarray, task: str) -> np.ndarray:
    """Model scores of samples `rows`, a chunk at a time (reconstruction: per-sample MSE)."""
    t = run.transform
    kind = kind_of(run.config.data.kind)
    out = []
    for start in range(0, len(rows), CHUNK):
        x = kind.inputs(t, samples, samples.load(rows[start : start + CHUNK]))
        s = run.scores(x)
        if tasks.get(task).reconstructs:
            target = (x - np.asarray(t.channel_mean, dtype="float32")) / np.sqrt(
                np.asarray(t.channel_var, dtype="float32")
            )
            s = np.mean((s.reshape(len(x), -1) - target.reshape(len(x), -1)) ** 2, axis=1)
        out.append(s)
    scores = np.concatenate(out)
    return t.target_values(scores) if tasks.get(task).standardised else scores


def labelled(run, data: Path | None, labels: Path | None):
    """(samples, rows, label) of the run's test split, or of external data (`--data`), read
    by the kind's reader as training read it."""
    path, recorded_labels = records.data_source(run.dataset)
    origin = f"{run.dir / 'dataset.json'} (where the run found its data)"
    given = {"data.path": (str(data or path), "--data" if data else origin)}
    if labels is not None or (data is None and recorded_labels):
        given["data.labels"] = (str(labels or recorded_labels), "--labels" if labels else origin)
    elif data is not None:
        given["data.labels"] = (None, "--data")
    config = load_config(run.dir / "config.yaml", recorded=given)
    kind = kind_of(config.data.kind)
    if data is None and kind.source_sha(config) != run.dataset.source.sha256:
        raise DataError(
            f"the data under {path} has changed since run {run.id} was trained "
            "(its SHA-256 differs), so its test split can no longer be trusted; restore the "
            "original files, or evaluate on the new data as external data with --data"
        )
    samples = kind.read(config)
    if data is None:
        return samples, np.asarray(run.dataset.rows["test"], dtype="int64"), "test split"
    return samples, np.arange(len(samples)), str(data)


def encode_truth(run, samples, rows: np.ndarray) -> np.ndarray:
    """The targets of `rows` in the run's own encoding (its classes, in its order)."""
    t = run.transform
    cfg = run.config.data
    task = tasks.get(run.dataset.task)
    if task.reconstructs or cfg.target is None:
        return np.zeros(len(rows), dtype="int64")
    table = samples.table.iloc[rows].reset_index(drop=True)
    if not task.exclusive and task.has_classes:  # several labels per sample
        from dltrain.data.targets import encode

        return encode(table, cfg.target, task.name, None, run.config, samples.where).y
    column = table[cfg.target]
    if task.standardised:
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


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "data"
