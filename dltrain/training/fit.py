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

from dltrain import __version__, runs
from dltrain.config import ExperimentConfig, dump_config
from dltrain.data.cache import Processed, preprocess
from dltrain.errors import DivergedError, DltrainError, InterruptedRun, SanityError
from dltrain.evaluation import metrics as M
from dltrain.evaluation.predict import load_model, model_scores, write_predictions
from dltrain.evaluation.scoring import metric_names, score_split
from dltrain.evaluation.threshold import choose_threshold
from dltrain.training import loop
from dltrain.training.loop import LoopState
from dltrain.training.setup import class_weights, monitor_of, new_model


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    run_dir: Path
    metrics: dict
    sanity: list


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
    data = preprocess(config)
    task = data.manifest["task"]
    monitor_of(config, task)  # bad monitor or metrics: config errors before any run exists
    metric_names(config, task)
    run_id, run_dir = runs.create_run(config.name)
    with runs.RunLock(run_dir), guarded(run_dir) as stop:
        metrics, checks = _train_in(run_dir, config, data, argv, stop)
        complete(run_dir)
    return TrainResult(run_id, run_dir, metrics, checks)


def complete(run_dir: Path) -> None:
    """Marks the run completed and builds its plots and report.html."""
    from dltrain.evaluation.report import write_report

    runs.set_status(run_dir, "completed")
    write_report(run_dir)


@contextlib.contextmanager
def guarded(run_dir: Path):
    """Records how a run ends in status.json and turns signals into exit codes 130/143.

    Yields the `StopSignals` that the training loop watches.
    """
    run_id = run_dir.name
    runs.set_status(run_dir, "running", pid=os.getpid())
    try:
        with StopSignals() as stop:
            yield stop
    except SanityError as exc:
        runs.set_status(run_dir, "failed", message=str(exc))
        raise
    except DivergedError as exc:
        runs.set_status(run_dir, "diverged", message=str(exc))
        raise
    except (Terminated, KeyboardInterrupt) as exc:
        how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
        runs.set_status(run_dir, "interrupted", message=f"stopped by {how}")
        raise InterruptedRun(
            f"run {run_id} stopped by {how}; continue it exactly with `dltrain resume {run_id}`",
            signal_exit_code=143 if isinstance(exc, Terminated) else 130,
        ) from None
    except DltrainError as exc:
        runs.set_status(run_dir, "failed", message=str(exc))
        raise
    except BaseException as exc:
        runs.set_status(run_dir, "failed", message=f"{type(exc).__name__}: {exc}")
        raise


def _train_in(
    run_dir: Path, config: ExperimentConfig, data: Processed, argv: list[str], stop: StopSignals
) -> dict:
    import keras

    manifest = data.manifest
    task = manifest["task"]
    runs.atomic_write_text(run_dir / "config.yaml", dump_config(config))
    runs.atomic_write_text(run_dir / "command.txt", shlex.join(argv) + "\n")
    runs.write_json(run_dir / "environment.json", environment(config))
    train_split, val_split, test_split = (data.split(n) for n in ("train", "val", "test"))
    x_train, y_train = train_split.x, train_split.y
    runs.write_json(
        run_dir / "dataset.json",
        {
            "cache": str(data.path.resolve()),
            "source": manifest["source"],
            "task": task,
            "classes": manifest["classes"],
            "positive_class": manifest["positive_class"],
            "features": manifest["features"],
            "split": manifest["split"],
            "rows": {"train": train_split.rows, "val": val_split.rows, "test": test_split.rows},
        },
    )
    transform = data.transform
    transform.save(run_dir / "preprocessing.json")

    seeded(config)
    n_classes = len(manifest["classes"])
    checks = []
    if config.train.sanity:
        from dltrain.training import sanity

        checks = sanity.run_suite(config, task, n_classes, train_split, val_split, transform)
        runs.write_json(run_dir / "sanity.json", sanity.as_json(checks))
        sanity.raise_on_failure(checks)
        keras.utils.set_random_seed(config.seed)  # the model is the same with or without it
    model = new_model(config, task, x_train, y_train, n_classes)

    (run_dir / "checkpoints").mkdir(exist_ok=True)
    fit_model(run_dir, config, data, model, stop, LoopState())
    return finish(run_dir, config, data, checks)


def seeded(config: ExperimentConfig) -> None:
    """Seeds Python, NumPy and TensorFlow; op determinism when `train.deterministic`."""
    import keras

    keras.utils.set_random_seed(config.seed)
    if config.train.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def fit_model(run_dir: Path, config: ExperimentConfig, data: Processed, model, stop, state):
    """Runs the resumable loop from `state`, then keeps the best validation epoch."""
    manifest = data.manifest
    task = manifest["task"]
    train_split, val_split = data.split("train"), data.split("val")
    weights = class_weights(config, task, train_split.y, len(manifest["classes"]))
    sample_weight = None
    if weights is not None:
        sample_weight = np.array([weights[int(c)] for c in train_split.y], dtype="float32")
    state = loop.run(
        model, config, task, train_split, val_split, sample_weight, run_dir, stop, state
    )
    best_path = run_dir / "checkpoints" / "best.keras"
    if state.best is None or not best_path.exists():
        monitor, _ = monitor_of(config, task)
        raise DivergedError(f"no epoch produced a finite {monitor}; nothing to keep")
    loop.save_model(load_model(best_path), run_dir / "model.keras")


def finish(run_dir: Path, config: ExperimentConfig, data: Processed, checks: list):
    """Scores the kept model: threshold on val, then the one look at test; writes the results."""
    manifest = data.manifest
    task = manifest["task"]
    transform = data.transform
    train_split, val_split, test_split = (data.split(n) for n in ("train", "val", "test"))
    x_train, y_train = train_split.x, train_split.y
    x_val, y_val = val_split.x, val_split.y
    x_test, y_test = test_split.x, test_split.y
    best = load_model(run_dir / "model.keras")

    ev = config.evaluate
    classes = manifest["classes"]
    s_val, s_test = model_scores(best, x_val), model_scores(best, x_test)
    y_val_u, y_test_u = y_val, y_test
    if task == "regression":
        y_val_u, y_test_u = transform.target_values(y_val), transform.target_values(y_test)
        s_val, s_test = transform.target_values(s_val), transform.target_values(s_test)
    operating_point = choose_threshold(ev.threshold, y_val, s_val) if task == "binary" else None
    threshold = operating_point["value"] if operating_point else 0.5
    results = {
        "task": task,
        "classes": classes,
        "positive_class": manifest["positive_class"],
        "threshold": operating_point["value"] if operating_point else None,
        "operating_point": operating_point,
        "monitor": monitor_of(config, task)[0],
        "bootstrap": ev.bootstrap,
        "confidence": ev.confidence,
        "n": {"train": int(len(y_train)), "val": int(len(y_val)), "test": int(len(y_test))},
    }
    val = score_split(config, task, classes, threshold, y_val_u, s_val, val_split.groups, 1)
    # the one look at test: after the model and its threshold are frozen
    test = score_split(config, task, classes, threshold, y_test_u, s_test, test_split.groups, 2)
    y_fit = transform.target_values(y_train) if task == "regression" else y_train
    baselines = {
        name: score_split(config, task, classes, threshold, y_test_u, s, test_split.groups, 2)
        for name, s in M.baselines(task, x_train, y_fit, x_test, config.seed).items()
    }
    results.update(
        val=val["metrics"],
        test=test["metrics"],
        baselines={name: b["metrics"] for name, b in baselines.items()},
    )
    if task != "regression":
        results["per_class"] = {"val": val["per_class"], "test": test["per_class"]}
        results["confusion"] = {"val": val["confusion"], "test": test["confusion"]}
    runs.write_json(run_dir / "metrics.json", results)
    if checks:
        from dltrain.training import sanity

        headline = results["val"].get(M.HEADLINE[task], {}).get("value")
        checks.append(sanity.beats_baselines(task, headline, checks))
        runs.write_json(run_dir / "sanity.json", sanity.as_json(checks))
    for name, split, y_u, s in (
        ("val", val_split, y_val_u, s_val),
        ("test", test_split, y_test_u, s_test),
    ):
        write_predictions(
            run_dir / "predictions" / f"{name}.csv",
            split.ids,
            split.rows,
            y_u,
            s,
            task,
            classes,
            threshold,
        )
    return results, checks


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
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }
