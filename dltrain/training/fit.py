"""`dltrain train`: preprocess (cached) → build → fit and validate → test once → write the run."""

from __future__ import annotations

import contextlib
import os
import platform
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dltrain import __version__, records, runs
from dltrain.config import ExperimentConfig, dump_config
from dltrain.data.cache import Processed, preprocess
from dltrain.errors import (
    ConfigError,
    DivergedError,
    DltrainError,
    InterruptedRun,
    RunError,
    SanityError,
)
from dltrain.evaluation import metrics as M
from dltrain.evaluation.predict import load_model, model_scores, write_predictions
from dltrain.evaluation.scoring import metric_names, score_split
from dltrain.evaluation.threshold import choose_threshold
from dltrain.training import checkpoint, distribute, loop
from dltrain.training.loop import LoopState
from dltrain.training.setup import class_weights, feeder, monitor_of, new_model


@dataclass(frozen=True)
class TrainResult:
    run_id: str | None
    run_dir: Path | None
    metrics: dict
    sanity: list
    worker: str | None = None  # distributed: a non-chief worker, which writes no run


class Terminated(KeyboardInterrupt):
    """Raised for SIGTERM so that it is handled like Ctrl-C."""


class StopSignals:
    """SIGINT/SIGTERM handling for the length of a run.

    While Keras is fitting (`fitting` is True), a signal only sets `received`: the
    `SignalStop` callback ends training after the current step, so the step
    finishes and nothing is interrupted inside TensorFlow. Outside fitting, or
    on a second signal, it raises at once (Terminated for SIGTERM,
    KeyboardInterrupt for SIGINT).
    """

    def __init__(self):
        self.received: int | None = None
        self.fitting = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.fitting and self.received is None:
            self.received = signum
            return
        self.received = signum
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    def check(self) -> None:
        """Raises the pending signal's exception, once fitting has stopped for it."""
        if self.received is not None:
            raise Terminated() if self.received == signal.SIGTERM else KeyboardInterrupt()


def train(config: ExperimentConfig, argv: list[str]) -> TrainResult:
    """Runs the whole training workflow and writes the run folder (DESIGN §4).

    Args:
        config: the validated experiment.
        argv: the command line, stored in command.txt.

    Returns:
        The run id, its folder and its metrics.
    """
    dist = distribute.setup(config.train)  # distributed: before any TF op
    data = preprocess(config)
    task = training_task(config, data.manifest)
    monitor_of(config, task)  # bad monitor or metrics: config errors before any run exists
    metric_names(config, task)
    if config.train.init_from is not None:  # an unknown run: refused before a run exists
        try:
            runs.resolve_run(config.train.init_from.run)
        except DltrainError as exc:
            raise ConfigError(
                f"train.init_from: {exc.message}", where=config.where("train.init_from")
            ) from None
    with distribute.run_folder(config.name) as (run_id, run_dir):  # non-chief: a temp dir
        with runs.RunLock(run_dir, new=True), guarded(run_dir) as stop, dist.failures():
            metrics, checks = _train_in(run_dir, config, data, argv, stop)
            if dist.is_chief:
                complete(run_dir)
    if not dist.is_chief:
        return TrainResult(None, None, {}, checks, worker=dist.describe())
    return TrainResult(run_id, run_dir, metrics, checks)


def complete(run_dir: Path) -> None:
    """Builds the run's plots and report.html, then marks the run completed: a run is
    declared completed only once everything it promises is written."""
    from dltrain.evaluation.report import write_report

    runs.set_status(run_dir, "running", phase="report")
    write_report(run_dir)
    runs.set_status(run_dir, "completed", phase="done")


PHASES = ("setup", "sanity", "training", "testing", "report", "done")
"""What a run is doing, in status.json's `phase`: `resume` continues from any of them, and
`dltrain report` finishes a run stopped in "report" (its results are all written)."""


@contextlib.contextmanager
def guarded(run_dir: Path):
    """Records how a run ends in status.json and turns signals into exit codes 130/143.

    Yields the `StopSignals` that the training loop watches. When status.json itself
    cannot be written (a full disk), the run's own error is still the one reported.
    """
    run_id = run_dir.name
    runs.set_status(run_dir, "running", pid=os.getpid())
    try:
        with StopSignals() as stop:
            yield stop
    except SanityError as exc:
        _record_end(run_dir, "failed", str(exc))
        raise
    except DivergedError as exc:
        _record_end(run_dir, "diverged", str(exc))
        raise
    except (Terminated, KeyboardInterrupt) as exc:
        how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
        _record_end(run_dir, "interrupted", f"stopped by {how}")
        if (run_dir / "config.yaml").is_file():
            what = f"continue it exactly with `dltrain resume {run_id}`"
        else:  # stopped while the run folder was being set up: nothing to continue
            what = "nothing was trained yet; start it again with the same command"
        raise InterruptedRun(
            f"run {run_id} stopped by {how}; {what}",
            signal_exit_code=143 if isinstance(exc, Terminated) else 130,
        ) from None
    except RunError as exc:  # a write failed (a full disk?) or a file of the run is damaged
        _record_end(run_dir, "failed", str(exc))
        raise _resumable(exc, run_dir) from None
    except DltrainError as exc:
        _record_end(run_dir, "failed", str(exc))
        raise
    except BaseException as exc:
        _record_end(run_dir, "failed", f"{type(exc).__name__}: {exc}")
        raise


def _record_end(run_dir: Path, status: str, message: str) -> None:
    """status.json says how the run ended, when it can be written at all."""
    with contextlib.suppress(RunError, OSError):
        runs.set_status(run_dir, status, message=message)


def _resumable(exc: RunError, run_dir: Path) -> RunError:
    """A file-system error during a run, with the last good checkpoint and the command that
    continues the run (unless the message already says how)."""
    if "dltrain resume" in exc.message or not (run_dir / "config.yaml").is_file():
        return exc
    good = checkpoint.last_good(run_dir)
    kept = f" The last good checkpoint is {good}." if good else " No checkpoint was written yet."
    return RunError(
        f"{exc.message.rstrip('.')}.{kept} Once the cause is fixed (e.g. space freed), "
        f"continue the run with `dltrain resume {run_dir.name}`",
        where=exc.where,
        details=exc.details,
    )


def training_task(config: ExperimentConfig, manifest: dict) -> str:
    """What the model learns: the data's task, or reconstruction for an autoencoder."""
    if config.model.architecture == "autoencoder":
        return "reconstruction"
    if manifest["task"] == "reconstruction":
        raise ConfigError(
            "data.target is null, so there is nothing to predict: only architecture "
            "'autoencoder' learns without labels; set data.target or use the autoencoder",
            where=config.where("data.target") or config.where("model.architecture"),
        )
    return manifest["task"]


def _train_in(
    run_dir: Path,
    config: ExperimentConfig,
    data: Processed,
    argv: list[str],
    stop: StopSignals,
    on_epoch=None,
    test: bool = True,
) -> dict:
    import keras

    manifest = data.manifest
    task = training_task(config, manifest)
    write_setup(run_dir, config, data, argv)
    seeded(config)
    n_classes = len(manifest["classes"])
    feed = feeder(config, data, task)
    prior = data.sample("train").y
    checks = sanity_checks(run_dir, config, task, data, feed)
    keras.utils.set_random_seed(config.seed)  # the model is the same with or without them
    runs.set_status(run_dir, "running", phase="training")
    with distribute.current().scope():  # distributed: variables mirrored on every replica
        model = distribute.current().built(
            new_model(config, task, data.transform, prior, n_classes, training_steps(config, data)),
            feed,
        )
    if config.train.init_from is not None:
        from dltrain.training import transfer

        transfer.init_from(model, config, run_dir)

    state = fit_model(run_dir, config, data, model, stop, LoopState(), on_epoch)
    if not distribute.current().is_chief:  # distributed: only the chief tests and reports
        return {}, checks
    if not test:  # a tuning trial: validation only, the test split stays unseen
        return state, checks
    return finish(run_dir, config, data, checks)


def write_setup(run_dir: Path, config: ExperimentConfig, data: Processed, argv: list[str]):
    """Writes what the run is made of. config.yaml comes last: a folder holding it is a run
    that `dltrain resume` can continue."""
    manifest = data.manifest
    rows = {name: _rows(data, name) for name in ("train", "val", "test")}
    runs.write_json(
        run_dir / "dataset.json",
        {
            "cache": str(data.path.resolve()),
            "kind": manifest["kind"],
            "source": source_record(config, manifest),
            "task": manifest["task"],
            "training_task": training_task(config, manifest),
            "classes": manifest["classes"],
            "positive_class": manifest["positive_class"],
            "features": manifest["features"],
            "input_shape": manifest.get("input_shape"),
            "split": manifest["split"],
            "rows": rows,
        },
    )
    data.transform.save(run_dir / "preprocessing.json")
    records.record(run_dir, "preprocessing.json")
    runs.write_json(run_dir / "environment.json", environment(config))
    runs.atomic_write_text(run_dir / "command.txt", shlex.join(argv) + "\n")
    runs.atomic_write_text(run_dir / "config.yaml", dump_config(config))
    runs.run_subdir(run_dir, "checkpoints")


def source_record(config: ExperimentConfig, manifest: dict) -> dict:
    """The run's data source: the paths as its config gave them, the absolute paths they
    named for this run (`resolved`), and the content facts of the cache (hash, size).

    The cache is shared by every run on the same data, so its own record of the path
    is whoever built it first; a run records its own.
    """
    from dltrain.kinds import paths

    source = {k: v for k, v in manifest["source"].items() if k not in ("path", "labels")}
    source["path"] = config.data.path
    if config.data.kind == "tabular":
        resolved = {"path": str(paths.resolve(config, "data.path").resolve())}
    else:
        resolved = {"path": str(paths.data_path(config).resolve())}
        labels = paths.labels_path(config)
        if labels is not None:
            source["labels"] = config.data.labels
            resolved["labels"] = str(labels.resolve())
    source["resolved"] = resolved
    return source


def sanity_checks(run_dir: Path, config: ExperimentConfig, task: str, data, feed) -> list:
    """The run's sanity suite: the recorded one (a resumed run), or run now and recorded.

    Raises:
        SanityError: a check failed (now, or when the run was started: resuming repeats it).
    """
    from dltrain.training import sanity

    if not config.train.sanity:
        return []
    checks = sanity.recorded(run_dir)
    if checks is None:
        runs.set_status(run_dir, "running", phase="sanity")
        checks = sanity.run_suite(config, task, len(data.manifest["classes"]), data, feed)
        runs.write_json(run_dir / "sanity.json", sanity.as_json(checks))
    sanity.raise_on_failure(checks)
    return checks


def _rows(data: Processed, name: str) -> list[int]:
    from dltrain.data.cache import read_shard

    return sorted(int(r) for path in data.shards(name) for r in read_shard(path).rows)


def training_steps(config: ExperimentConfig, data: Processed) -> int:
    """The steps a full run takes (early stopping aside): it decides `jit_compile: auto`."""
    from dltrain.data import stream

    return config.train.epochs * stream.steps(data, "train", config.train.batch_size)


def seeded(config: ExperimentConfig) -> None:
    """Seeds Python, NumPy and TensorFlow; op determinism when `train.deterministic`."""
    import keras

    keras.utils.set_random_seed(config.seed)
    import tensorflow as tf

    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()
    else:  # process-wide: undo an earlier run's setting in the same process
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()


def fit_model(
    run_dir: Path, config: ExperimentConfig, data: Processed, model, stop, state, on_epoch=None
):
    """Runs the resumable loop from `state`, then keeps the best validation epoch.

    Returns the final `LoopState`; `on_epoch` is passed to `loop.run`.
    """
    manifest = data.manifest
    task = training_task(config, manifest)
    weights = None
    if task in ("binary", "multiclass"):
        counts = manifest["split"]["train"]["class_counts"]
        labels = np.repeat(np.arange(len(counts)), list(counts.values()))
        weights = class_weights(config, task, labels, len(counts))
    feed = feeder(config, data, task, weights)
    state = loop.run(model, config, data, feed, run_dir, stop, state, on_epoch)
    if not distribute.current().is_chief:  # distributed: the chief keeps the model
        return state
    best_path = run_dir / "checkpoints" / "best.keras"
    if state.best is None or not best_path.exists():
        monitor, _ = monitor_of(config, task)
        raise DivergedError(f"no epoch produced a finite {monitor}; nothing to keep")
    runs.set_status(run_dir, "running", phase="testing")
    checkpoint.save_model(load_model(best_path), run_dir / "model.keras")
    records.record(run_dir, "model.keras")
    return state


def finish(run_dir: Path, config: ExperimentConfig, data: Processed, checks: list):
    """Scores the kept model: threshold on val, then the one look at test; writes the results."""
    manifest = data.manifest
    task = training_task(config, manifest)
    transform = data.transform
    best = load_model(run_dir / "model.keras")
    feed = feeder(config, data, task)
    val, test = (split_scores(best, data, name, feed, transform) for name in ("val", "test"))
    ev = config.evaluate
    classes = manifest["classes"] if task != "reconstruction" else []
    op = choose_threshold(ev.threshold, val.y, val.scores) if task == "binary" else None
    threshold = op["value"] if op else 0.5
    results = {
        "task": task,
        "classes": classes,
        "positive_class": manifest["positive_class"] if task == "binary" else None,
        "threshold": op["value"] if op else None,
        "operating_point": op,
        "monitor": monitor_of(config, task)[0],
        "bootstrap": ev.bootstrap,
        "confidence": ev.confidence,
        "n": {"train": data.size("train"), "val": len(val.y), "test": len(test.y)},
    }
    val_scored = score_split(config, task, classes, threshold, val.y, val.scores, val.groups, 1)
    # the one look at test: after the model and its threshold are frozen
    test_scored = score_split(config, task, classes, threshold, test.y, test.scores, test.groups, 2)
    train = data.sample("train")
    baselines = {}
    for name, predictor in M.fit_baselines(
        task,
        flat_inputs(train.x, transform),
        target_values(train, task, transform, feed),
        config.seed,
    ).items():
        scores = np.concatenate(
            [predictor(flat_inputs(x, transform), x, feed) for x in _split_inputs(data, "test")]
        )
        baselines[name] = score_split(
            config, task, classes, threshold, test.y, scores, test.groups, 2
        )
    results.update(
        val=val_scored["metrics"],
        test=test_scored["metrics"],
        baselines={name: b["metrics"] for name, b in baselines.items()},
    )
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
    runs.write_json(run_dir / "metrics.json", results)
    if config.data.kind == "images":
        augmented_batch(run_dir, best, data, classes)
    if checks:
        from dltrain.training import sanity

        headline = results["val"].get(M.HEADLINE[task], {}).get("value")
        checks = [c for c in checks if c.name != "beats_baselines"]  # a resumed run's
        checks.append(sanity.beats_baselines(task, headline, checks))
        runs.write_json(run_dir / "sanity.json", sanity.as_json(checks))
    for name, part in (("val", val), ("test", test)):
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
    return results, checks


def augmented_batch(run_dir: Path, model, data: Processed, classes: list[str]) -> None:
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


@dataclass(frozen=True)
class Scored:
    """A split's model scores with its truth, in stored order."""

    y: np.ndarray
    scores: np.ndarray
    ids: np.ndarray
    rows: np.ndarray
    groups: np.ndarray | None


def split_scores(model, data: Processed, name: str, feed, transform) -> Scored:
    """Streams a split through the model: probabilities, values, or reconstruction errors."""
    from dltrain.data.cache import read_shard

    ys, scores, ids, rows, groups = [], [], [], [], []
    for path in data.shards(name):
        shard = read_shard(path)
        x = shard.x.astype("float32") if shard.x.dtype == np.uint8 else shard.x
        out = model_scores(model, x)
        if feed.task == "reconstruction":
            target = feed.eval_batch(x, shard.y)[1]
            out = np.mean((out.reshape(len(x), -1) - target.reshape(len(x), -1)) ** 2, axis=1)
        ys.append(shard.y)
        scores.append(out)
        ids.append(shard.ids)
        rows.append(shard.rows)
        groups.append(shard.groups)
    y = np.concatenate(ys)
    score = np.concatenate(scores)
    if feed.task == "regression":
        y, score = transform.target_values(y), transform.target_values(score)
    return Scored(
        y,
        score,
        np.concatenate(ids),
        np.concatenate(rows),
        None if groups[0] is None else np.concatenate(groups),
    )


def _split_inputs(data: Processed, name: str):
    from dltrain.data.cache import read_shard

    for path in data.shards(name):
        yield read_shard(path).x


def flat_inputs(x: np.ndarray, transform):
    """Inputs as a 2-D matrix for scikit-learn baselines (bag of words for text)."""
    if getattr(transform, "kind", "tabular") == "text":
        from dltrain.kinds.text.vocabulary import bag_of_words

        return bag_of_words(x, len(transform.vocabulary) + 2)
    return np.asarray(x, dtype="float32").reshape(len(x), -1)


def target_values(split, task: str, transform, feed):
    """Training targets for the baselines, in the units metrics are reported in."""
    if task == "regression":
        return transform.target_values(split.y)
    if task == "reconstruction":
        x = split.x.astype("float32")
        return feed.eval_batch(x, split.y)[1].reshape(len(x), -1)
    return split.y


def environment(config: ExperimentConfig) -> dict:
    """Versions, git commit and seed: what is needed to reproduce the run."""
    import keras
    import pandas as pd
    import sklearn
    import tensorflow as tf

    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "dltrain": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit_learn": sklearn.__version__,
        "git_commit": commit,
        "seed": config.seed,
        "deterministic": config.train.deterministic,
        "distribute": distribute.current().describe(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }
