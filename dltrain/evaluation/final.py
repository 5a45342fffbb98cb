"""The one look at the test split: the kept model scored once, beside the baselines.

After training, the model's validation probabilities are recalibrated when the config asks
(`evaluate.recalibrate`, fitted on validation), the decision threshold is chosen on
validation and frozen; then the test split is scored, every metric with its bootstrap CI,
next to the baselines fitted on train and tuned on validation (each with its own threshold
chosen on validation by the same rule), and the model is held against each baseline by a
paired bootstrap of the headline metric (`decision.decide`); metrics.json and the
per-sample predictions are written. Nothing here trains.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dltrain import runs
from dltrain.evaluation import calibration
from dltrain.evaluation.baselines import fit_baselines
from dltrain.evaluation.decision import decide
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
    model, val, test, fitted = _predicted(run_dir, session, model)
    ev = config.evaluate
    recalibration = calibration.fit(ev.recalibrate, task.name, val.y, val.scores)
    calibration.save(run_dir, recalibration)
    val, test = (replace(s, scores=calibration.apply(recalibration, s.scores)) for s in (val, test))
    classes = data.manifest["classes"] if not task.reconstructs else []
    op = choose_threshold(ev.threshold, val.y, val.scores) if task.chooses_threshold else None
    threshold = op["value"] if op else 0.5
    results = {
        "task": task.name,
        "classes": classes,
        "positive_class": data.manifest["positive_class"] if task.chooses_threshold else None,
        "threshold": op["value"] if op else None,
        "operating_point": op,
        "recalibration": recalibration,
        "monitor": session.monitor,
        "bootstrap": ev.bootstrap,
        "confidence": ev.confidence,
        "n": {"train": data.size("train"), "val": len(val.y), "test": len(test.y)},
    }
    args = (config, task.name, classes, threshold)
    val_scored = score_split(*args, val.y, val.scores, val.groups, 1)
    # the one look at test: after the model and its threshold are frozen
    test_scored = score_split(*args, test.y, test.scores, test.groups, 2)
    results.update(val=val_scored["metrics"], test=test_scored["metrics"])
    results.update(against_baselines(session, {"val": val, "test": test}, threshold, fitted))
    _add_details(results, val_scored, test_scored)
    runs.write_json(run_dir / "metrics.json", results)
    if config.data.kind == "images":
        augmented_batch(run_dir, model, data, classes)
    for name, part in (("val", val), ("test", test)):
        _write_split(run_dir, name, part, task.name, classes, threshold)
    return results


def _predicted(run_dir: Path, session, model) -> tuple:
    """(model, val, test, the fitted baselines with their val and test scores): the
    baselines do not need the model,
    so they are fitted and applied in a thread while the model predicts (TensorFlow and
    scikit-learn's solvers run mostly outside the GIL). Each side depends only on its own
    inputs and seeds: the results are those of one after the other (`benchmarks/golden.py`).

    The bootstrap CIs are not computed side by side: measured, two threads made them slower
    (many small NumPy operations, each taking the GIL).

    Warning filters are process-wide and `warnings.catch_warnings` is not thread-safe, so
    they are restored here once both sides have ended.
    """
    with warnings.catch_warnings(), ThreadPoolExecutor(1) as aside:
        baselines = aside.submit(lambda: list(baseline_scores(session, ("val", "test"))))
        if model is None:
            model = load_model(run_dir / "model.keras")
        val, test = (split_scores(model, session, name) for name in ("val", "test"))
        return model, val, test, baselines.result()


def against_baselines(
    session, model: dict[str, Scored], threshold: float, fitted: list | None = None
) -> dict:
    """The baselines scored on test like the model, and the model held against each
    (`fitted`: `baseline_scores`' output when already computed).

    Returns:
        "baselines": name → test metrics (as the model's); "baseline_decisions": name →
        the paired-bootstrap decision on test's headline metric; "baseline_decisions_val":
        the same on validation (the sanity suite's after-training check, which never looks
        at test); "baseline_details": name → family, features, what was tuned, threshold.
    """
    config, task = session.config, session.task
    ev = config.evaluate
    classes = session.data.manifest["classes"] if not task.reconstructs else []
    n_classes = len(classes)
    out: dict = {"baselines": {}, "baseline_decisions": {}, "baseline_decisions_val": {}}
    out["baseline_details"] = details = {}
    if fitted is None:
        fitted = list(baseline_scores(session, ("val", "test")))
    for baseline, scores in fitted:
        val_y = model["val"].y
        own = _own_threshold(ev.threshold, task, val_y, scores["val"], threshold)
        details[baseline.name] = {
            "family": baseline.family,
            "features": baseline.features,
            "tuned": baseline.tuned,
            "threshold": own if task.chooses_threshold else None,
        }
        test = model["test"]
        out["baselines"][baseline.name] = score_split(
            config, task.name, classes, own, test.y, scores["test"], test.groups, 2
        )["metrics"]
        for split, key, offset in (
            ("test", "baseline_decisions", 2),
            ("val", "baseline_decisions_val", 1),
        ):
            part = model[split]
            out[key][baseline.name] = decide(
                task.name,
                task.headline,
                part.y,
                (part.scores, threshold),
                (scores[split], own),
                n_classes=n_classes,
                n_boot=ev.bootstrap,
                confidence=ev.confidence,
                seed=config.seed + offset,  # the resamples of the split's own intervals
                groups=part.groups,
            )
    return out


def _own_threshold(rule, task, y_val, s_val, model_threshold: float) -> float:
    """A baseline's threshold: chosen on validation by the model's rule (binary)."""
    if not task.chooses_threshold:
        return model_threshold
    return float(choose_threshold(rule, y_val, s_val)["value"])


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


def baseline_scores(session, splits: tuple[str, ...]):
    """Each baseline, fitted on the training sample and tuned on the validation sample,
    scored on every sample of each of `splits`: yields (`Fitted`, split → scores)."""
    config, data = session.config, session.data
    n_classes = len(data.manifest["classes"]) if session.task.has_classes else 2
    fitted = fit_baselines(
        session.task.name,
        config.data.kind,
        data.transform,
        (data.sample("train"), data.sample("val")),
        n_classes,
        session.feed,
        config.seed,
    )
    for baseline in fitted.values():
        yield (
            baseline,
            {
                split: np.concatenate([baseline.scores(x) for x in _inputs(data, split)])
                for split in splits
            },
        )


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
    model = getattr(session, "kept", None)
    if model is None:  # the kept model is in memory after training; else model.keras
        model = load_model(run_dir / "model.keras")
    part = split_scores(model, session, SPLIT)
    part = replace(part, scores=calibration.apply(results.get("recalibration"), part.scores))
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
    _write_split(run_dir, SPLIT, part, task.name, classes, threshold)
    return results


def _write_split(run_dir: Path, name: str, part, task: str, classes, threshold) -> None:
    """predictions/<name>.csv: each sample's id, row, truth, scores and decision."""
    write_predictions(
        runs.run_subdir(run_dir, "predictions") / f"{name}.csv",
        part.ids,
        part.rows,
        part.y,
        part.scores,
        task,
        classes,
        threshold,
        groups=part.groups,
    )
