"""The one look at the test split: the kept model scored once, beside the baselines.

After training, the decision threshold is chosen on validation and frozen; then the test
split is scored, every metric with its bootstrap CI, next to the baselines fitted on
train; metrics.json and the per-sample predictions are written. Nothing here trains.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dltrain import runs
from dltrain.evaluation.baselines import fit_baselines, flat_inputs, target_values
from dltrain.evaluation.predict import load_model, model_scores, write_predictions
from dltrain.evaluation.scoring import score_split
from dltrain.evaluation.threshold import choose_threshold


@dataclass(frozen=True)
class Scored:
    """A split's model scores with its truth, in stored order."""

    y: np.ndarray
    scores: np.ndarray
    ids: np.ndarray
    rows: np.ndarray
    groups: np.ndarray | None


def test_once(run_dir: Path, session, model=None) -> dict:
    """Scores `run_dir/model.keras`: threshold on val, then the one look at test.

    Args:
        run_dir: the run folder (its model.keras is the kept model).
        session: the run's training session (config, data, task, feed, monitor).
        model: the kept model, already loaded. Defaults to None: loaded from model.keras.

    Returns:
        The results written to metrics.json.
    """
    config, data, task = session.config, session.data, session.task
    model, val, test, baseline_preds = _predicted(run_dir, session, model)
    classes = data.manifest["classes"] if not task.reconstructs else []
    ev = config.evaluate
    op = choose_threshold(ev.threshold, val.y, val.scores) if task.chooses_threshold else None
    threshold = op["value"] if op else 0.5
    results = {
        "task": task.name,
        "classes": classes,
        "positive_class": data.manifest["positive_class"] if task.chooses_threshold else None,
        "threshold": op["value"] if op else None,
        "operating_point": op,
        "monitor": session.monitor,
        "bootstrap": ev.bootstrap,
        "confidence": ev.confidence,
        "n": {"train": data.size("train"), "val": len(val.y), "test": len(test.y)},
    }
    args = (config, task.name, classes, threshold)
    val_scored = score_split(*args, val.y, val.scores, val.groups, 1)
    # the one look at test: after the model and its threshold are frozen
    test_scored = score_split(*args, test.y, test.scores, test.groups, 2)
    baselines = {
        name: score_split(*args, test.y, scores, test.groups, 2)
        for name, scores in baseline_preds.items()
    }
    results.update(
        val=val_scored["metrics"],
        test=test_scored["metrics"],
        baselines={name: b["metrics"] for name, b in baselines.items()},
    )
    _add_details(results, val_scored, test_scored)
    runs.write_json(run_dir / "metrics.json", results)
    if config.data.kind == "images":
        augmented_batch(run_dir, model, data, classes)
    for name, part in (("val", val), ("test", test)):
        write_predictions(
            runs.run_subdir(run_dir, "predictions") / f"{name}.csv",
            part.ids,
            part.rows,
            part.y,
            part.scores,
            task.name,
            classes,
            threshold,
            groups=part.groups,
        )
    return results


def _predicted(run_dir: Path, session, model) -> tuple:
    """(model, val, test, the baselines' test scores): the baselines do not need the model,
    so they are fitted and applied in a thread while the model predicts (TensorFlow and
    scikit-learn's solvers run mostly outside the GIL). Each side depends only on its own
    inputs and seeds: the results are those of one after the other (`benchmarks/golden.py`).

    The bootstrap CIs are not computed side by side: measured, two threads made them slower
    (many small NumPy operations, each taking the GIL).

    Warning filters are process-wide and `warnings.catch_warnings` is not thread-safe, so
    they are restored here once both sides have ended.
    """
    with warnings.catch_warnings(), ThreadPoolExecutor(1) as aside:
        baselines = aside.submit(baseline_scores, session, "test")
        if model is None:
            model = load_model(run_dir / "model.keras")
        val, test = (split_scores(model, session, name) for name in ("val", "test"))
        return model, val, test, baselines.result()


def _add_details(results: dict, val_scored: dict, test_scored: dict) -> None:
    """The splits' warnings, per-class metrics and confusion matrices, when there are any."""
    warnings = [
        f"{name}: {w}"
        for name, part in (("val", val_scored), ("test", test_scored))
        for w in part.get("warnings", [])
    ]
    if warnings:
        results["warnings"] = warnings
    if "per_class" in test_scored:
        results["per_class"] = {"val": val_scored["per_class"], "test": test_scored["per_class"]}
        results["confusion"] = {"val": val_scored["confusion"], "test": test_scored["confusion"]}


def baseline_scores(session, split: str) -> dict[str, np.ndarray]:
    """Each baseline, fitted on the training sample, scored on every sample of `split`."""
    config, data, feed = session.config, session.data, session.feed
    transform = data.transform
    train = data.sample("train")
    fitted = fit_baselines(
        session.task.name,
        flat_inputs(train.x, transform),
        target_values(train, session.task.name, transform, feed),
        config.seed,
    )
    return {
        name: np.concatenate(
            [predictor(flat_inputs(x, transform), x, feed) for x in _inputs(data, split)]
        )
        for name, predictor in fitted.items()
    }


def augmented_batch(run_dir: Path, model, data, classes: list[str]) -> None:
    """plots/augmented_batch.png: training images as the network sees them after augmentation
    ("visualise just before the net"), drawn with the model's own augmentation layers."""
    import keras

    from dltrain.evaluation.plots import AUGMENTED_GRID, image_grid

    sample = data.split("train", 512)
    pick = np.sort(np.random.default_rng(0).choice(len(sample.y), min(16, len(sample.y)), False))
    x = sample.x[pick].astype("float32")
    cut = model.get_layer("normalization").input
    augment = keras.Model(model.input, cut)
    shown = np.asarray(augment(x, training=True))
    names = [classes[int(c)] for c in sample.y[pick]] if classes else list(sample.ids[pick])
    runs.atomic_write_bytes(
        runs.run_subdir(run_dir, "plots") / AUGMENTED_GRID,
        image_grid(shown, list(names), "Training batch after augmentation (train split)"),
    )


def split_scores(model, session, name: str) -> Scored:
    """Streams a split through the model: probabilities, values, or reconstruction errors."""
    from dltrain.data.cache import read_shard

    task, feed = session.task, session.feed
    ys, scores, ids, rows, groups = [], [], [], [], []
    for path in session.data.shards(name):
        shard = read_shard(path)
        x = shard.x.astype("float32") if shard.x.dtype == np.uint8 else shard.x
        out = model_scores(model, x)
        if task.reconstructs:
            target = feed.eval_batch(x, shard.y)[1]
            out = np.mean((out.reshape(len(x), -1) - target.reshape(len(x), -1)) ** 2, axis=1)
        ys.append(shard.y)
        scores.append(out)
        ids.append(shard.ids)
        rows.append(shard.rows)
        groups.append(shard.groups)
    y, score = np.concatenate(ys), np.concatenate(scores)
    if task.standardised:
        transform = session.data.transform
        y, score = transform.target_values(y), transform.target_values(score)
    return Scored(
        y,
        score,
        np.concatenate(ids),
        np.concatenate(rows),
        None if groups[0] is None else np.concatenate(groups),
    )


def _inputs(data, name: str):
    from dltrain.data.cache import read_shard

    for path in data.shards(name):
        yield read_shard(path).x


def external_once(run_dir: Path, session, results: dict) -> dict:
    """Scores the external test set (`data.external`) once, after the internal test split,
    at the same frozen threshold; adds `results["external"]` (its metrics with CIs, its
    size and where it came from), rewrites metrics.json and writes
    predictions/external.csv. Without an external set, returns `results` unchanged."""
    from dltrain.data.external import SPLIT

    entry = session.data.manifest.get(SPLIT)
    if not entry or not session.data.shards(SPLIT):
        return results
    task, config = session.task, session.config
    model = getattr(session, "kept", None) or load_model(run_dir / "model.keras")
    part = split_scores(model, session, SPLIT)
    classes = results["classes"]
    threshold = results["threshold"] if results["threshold"] is not None else 0.5
    scored = score_split(config, task.name, classes, threshold, part.y, part.scores, part.groups, 3)
    results = {
        **results,
        "n": {**results["n"], SPLIT: len(part.y)},
        SPLIT: {
            "metrics": scored["metrics"],
            "source": entry.get("source", {}).get("path"),
            "identical_to_internal": entry.get("identical_to_internal", 0),
            "groups_also_internal": entry.get("groups_also_internal"),
            **{k: v for k, v in scored.items() if k in ("per_class", "confusion", "warnings")},
        },
    }
    runs.write_json(run_dir / "metrics.json", results)
    write_predictions(
        runs.run_subdir(run_dir, "predictions") / f"{SPLIT}.csv",
        part.ids,
        part.rows,
        part.y,
        part.scores,
        task.name,
        classes,
        threshold,
        groups=part.groups,
    )
    return results
