"""A training session: an experiment's task, data, monitor, metrics, feeder and model,
resolved once; `train`, `resume`, `check` and a tuning trial are operations on it.

    config ─preprocess─▶ Session(config, data) ─▶ sanity ─▶ loop ─▶ test once ─▶ report
                                                          (checkpoints) (evaluation.final)

Everything a run needs to know about itself is decided here, once, and asked of the
session afterwards: the task (`dltrain.tasks`), which validation metric picks the best
epoch, which metrics are reported, how stored batches become the model's inputs and
targets, and how a fresh seeded model is built. Framework state (seeds, op determinism,
precision) is set for the length of an operation by `framework.configured`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from dltrain import records, runs, tasks, tracking
from dltrain.config import ExperimentConfig
from dltrain.data.cache import Processed, preprocess
from dltrain.errors import ConfigError, DivergedError, DltrainError, RunError
from dltrain.evaluation import final
from dltrain.evaluation.calibration import check as recalibration_applies
from dltrain.evaluation.predict import load_model
from dltrain.evaluation.scoring import metric_names
from dltrain.training import checkpoint, distribute, framework, loop, runfiles, stopping
from dltrain.training.events import SILENT, Listener
from dltrain.training.guard import guarded, phase
from dltrain.training.loop import LoopState
from dltrain.training.refit import Refit, train_and_val
from dltrain.training.setup import class_weights, feeder, monitor_of, new_model

SANITY_DETAIL = "initial loss, overfitting one batch, learning from the inputs, baselines"


@dataclass(frozen=True)
class TrainResult:
    run_id: str | None
    run_dir: Path | None
    metrics: dict
    sanity: list
    worker: str | None = None  # distributed: a non-chief worker, which writes no run


def training_task(config: ExperimentConfig, manifest: dict) -> str:
    """What the model learns: the data's task, or reconstruction for an autoencoder."""
    if config.model.architecture == "autoencoder":
        return tasks.Reconstruction.name
    if tasks.get(manifest["task"]).reconstructs:
        raise ConfigError(
            "data.target is null, so there is nothing to predict: only architecture "
            "'autoencoder' learns without labels; set data.target or use the autoencoder",
            where=config.where("data.target") or config.where("model.architecture"),
        )
    return manifest["task"]


class Session:
    """One experiment on one processed dataset.

    Creating it checks what can be wrong before any run exists (the task, the monitor,
    the reported metrics): a `ConfigError` then leaves nothing behind.

    Args:
        config: the validated experiment.
        data: its processed dataset.
        listener: told of phases, epochs and warnings. Defaults to `SILENT`.
        refit: a run trained on train+val (`train_on_train_val`): how its epochs and
            threshold were chosen. Its data is then `train_and_val(data)`, and it
            validates on nothing. Defaults to None, a run as configured.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        data: Processed,
        listener: Listener = SILENT,
        refit: Refit | None = None,
    ):
        self.config, self.listener, self.refit = config, listener, refit
        self.data = data if refit is None else train_and_val(data)
        self.task_name = training_task(config, data.manifest)
        self.task = tasks.get(self.task_name)
        self.monitor, self.mode = monitor_of(config, self.task_name)
        self.metric_names = metric_names(config, self.task_name)
        recalibration_applies(config, self.task_name)
        self.n_classes = len(data.manifest["classes"])
        self.kept = None  # the kept model once `fit` saved it as model.keras, for `test`
        self._suite_model = None  # the suite's model, kept for training (`suite`)
        self.stopping: dict | None = None  # why training stopped, once it has

    @cached_property
    def feed(self):
        """Stored (x, y) → the model's (inputs, targets), without class weights."""
        return feeder(self.config, self.data, self.task_name)

    @cached_property
    def train_sample(self):
        """A random sample of the training split (priors, baselines, sanity suite)."""
        return self.data.sample("train")

    @cached_property
    def steps(self) -> int:
        """The training steps of a full run (early stopping aside): it decides XLA."""
        from dltrain.data import stream

        return self.config.train.epochs * stream.steps(
            self.data, "train", self.config.train.batch_size
        )

    def model(self, steps: int | None = -1):
        """A freshly initialised, compiled model (seeded by the caller); `steps` None builds
        for a long run, -1 for this run's own length."""
        steps = self.steps if steps == -1 else steps
        return new_model(
            self.config,
            self.task_name,
            self.data.transform,
            self.train_sample.y,
            self.n_classes,
            steps,
        )

    def built_model(self):
        """The run's model, seeded, built inside the distribution strategy's scope.

        After the sanity suite ran on the run's own model (`suite(reuse=True)`), that model,
        restored to the state it was built in, with its traced train and test steps."""
        framework.seeded(self.config)
        if self._suite_model is not None:
            fresh, self._suite_model = self._suite_model, None
            return fresh.restart()
        dist = distribute.current()
        with dist.scope():  # distributed: variables mirrored on every replica
            return dist.built(self.model(), self.feed)

    def reusable(self) -> bool:
        """Whether the suite may run on the model training then trains: not where the model
        is changed between building and training (fine-tuning stages, init_from, replicas)."""
        train = self.config.train
        return train.fine_tune is None and train.init_from is None and train.distribute == "none"

    def suite(self, reuse: bool = False) -> list:
        """The sanity suite's verdicts: cached for this model, data, seed and settings
        (`sanity_cache`), or measured now and cached.

        Args:
            reuse: run the suite on the run's own model and keep it for `built_model`
                (when `reusable()`). Defaults to False.
        """
        from dltrain.training import sanity, sanity_cache

        key = sanity_cache.key(self.config, self.data)
        checks = sanity_cache.load(self.data, key)
        if checks is not None:
            return checks
        fresh = sanity.Fresh(self.built_model) if reuse and self.reusable() else None
        checks = sanity.run_suite(
            self.config,
            self.task_name,
            self.n_classes,
            self.data,
            self.feed,
            fresh,
            self.steps,
            self.listener,
        )
        sanity_cache.store(self.data, key, checks)
        self._suite_model = fresh
        return checks

    def sanity(self, run_dir: Path | None = None) -> list:
        """The sanity suite: the run's recorded one (resuming), or run now (and recorded).

        Raises:
            SanityError: a check failed (now, or when the run started: resuming repeats it).
        """
        from dltrain.training import sanity

        if not self.config.train.sanity:
            return []
        checks = sanity.recorded(run_dir) if run_dir is not None else None
        if checks is None:
            if run_dir is not None:
                phase(run_dir, "sanity")
            self.listener.phase("sanity", SANITY_DETAIL)
            checks = self.suite(reuse=run_dir is not None)
            if run_dir is not None:
                runs.write_json(run_dir / "sanity.json", sanity.as_json(checks))
        sanity.raise_on_failure(checks)
        return checks

    def fit(self, run_dir: Path, model, stop, state: LoopState, on_epoch=None) -> LoopState:
        """Runs the resumable loop from `state`, then keeps the best validation epoch (the
        last epoch, for a run trained on train+val) as model.keras (its checksum recorded)."""
        weights = None
        if self.task.exclusive:
            counts = self.data.manifest["split"]["train"]["class_counts"]
            labels = np.repeat(np.arange(len(counts)), list(counts.values()))
            weights = class_weights(self.config, self.task_name, labels, len(counts))
        feed = feeder(self.config, self.data, self.task_name, weights)
        steps = self.steps // max(1, self.config.train.epochs)
        self.listener.phase(
            "train",
            f"up to {self.config.train.epochs} epochs of {steps} batches, keeping the "
            f"epoch with the best {self.monitor}",
        )
        state = loop.run(
            model,
            self.config,
            self.data,
            feed,
            run_dir,
            stop,
            state,
            on_epoch,
            self.listener,
            validate=self.refit is None,
        )
        if not distribute.current().is_chief:  # distributed: the chief keeps the model
            return state
        best_path = run_dir / "checkpoints" / "best.keras"
        if state.best is None or not best_path.exists():
            raise DivergedError(f"no epoch produced a finite {self.monitor}; nothing to keep")
        self.stopping = stopping.describe(state, self.config, self.monitor)
        phase(run_dir, "testing", stopping=self.stopping)
        self.listener.stopped(self.stopping)
        self.kept = load_model(best_path)
        checkpoint.save_model(self.kept, run_dir / "model.keras")
        records.record(run_dir, "model.keras")
        return state

    def test(self, run_dir: Path, checks: list) -> tuple[dict, list]:
        """The one look at test, then the sanity suite's verdict against the baselines (not
        for a run trained on train+val: its val metrics are in-sample; metrics.json's
        "refit" says how it was trained)."""
        from dltrain.training import sanity

        boot = self.config.evaluate.bootstrap
        self.listener.phase("test", f"scoring validation and test ({boot} bootstrap resamples)")
        results = final.test_once(run_dir, self, self.kept)
        results = final.external_once(run_dir, self, results)  # data.external, if any
        if self.stopping is not None:  # metrics.json says why training stopped, too
            results = {**results, "stopping": self.stopping}
        if self.refit is not None:
            results["refit"] = self.refit.as_json()
        if self.stopping is not None or self.refit is not None:
            runs.write_json(run_dir / "metrics.json", results)
        self.listener.tested(results)
        if checks and self.refit is None:
            headline = results["val"].get(self.task.headline, {}).get("value")
            checks = [c for c in checks if c.name not in sanity.AFTER_TRAINING]  # resumed
            decided = results.get("baseline_decisions_val")
            checks.append(sanity.beats_baselines(self.task_name, headline, checks, decided))
            checks += sanity.after_training(
                self.task_name, run_dir, self.data.manifest["classes"], self._train_targets()
            )
            runs.write_json(run_dir / "sanity.json", sanity.as_json(checks))
        return results, checks

    def _train_targets(self):
        """The training sample's targets in the units the metrics use."""
        from dltrain.evaluation.baselines import target_values

        return target_values(self.train_sample, self.task_name, self.data.transform, self.feed)

    def complete(self, run_dir: Path) -> None:
        """Builds the plots and report.html, then marks the run completed: a run is
        declared completed only once everything it promises is written."""
        from dltrain.evaluation.report import write_report

        phase(run_dir, "report")
        self.listener.phase("report", "plots and report.html")
        write_report(run_dir, listener=self.listener)
        records.set_status(run_dir, "completed", phase="done")
        self.listener.finished(run_dir)


def train(config: ExperimentConfig, argv: list[str], listener: Listener = SILENT) -> TrainResult:
    """Runs the whole training workflow and writes the run folder (DESIGN §4).

    Args:
        config: the validated experiment.
        argv: the command line, stored in command.txt.
        listener: told of phases, epochs and warnings. Defaults to `SILENT`.

    Returns:
        The run id, its folder and its metrics.
    """
    return _new_run(config, argv, listener, None)


def train_on_train_val(
    config: ExperimentConfig, argv: list[str], chosen: Refit, listener: Listener = SILENT
) -> TrainResult:
    """Trains on the train and val splits together for exactly `chosen.epochs` epochs (no
    early stopping, no validation, the last epoch kept), then tests once with the frozen
    threshold: the final run of `tune.final: train+val` (`dltrain.training.refit`).

    Args:
        config: the best config, with `train.epochs` = `chosen.epochs`, early stopping off
            and, for a binary task, `evaluate.threshold` fixed at `chosen.threshold`.
        argv: the command line, stored in command.txt.
        chosen: how the epochs and the threshold were chosen on validation (refit.json).
        listener: told of phases, epochs and warnings. Defaults to `SILENT`.

    Returns:
        The run id, its folder and its metrics (with "refit").
    """
    threshold = config.evaluate.threshold
    fixed = threshold.rule == "fixed" and threshold.value == chosen.threshold
    if (
        config.train.epochs != chosen.epochs
        or config.train.early_stopping is not None
        or not (fixed or chosen.threshold is None)
    ):
        raise ValueError(f"the config does not train as {chosen} says")  # the caller's bug
    return _new_run(config, argv, listener, chosen)


def _new_run(config: ExperimentConfig, argv: list[str], listener: Listener, chosen):
    tracking.check(config)  # e.g. track.mlflow without the extra: refused before anything
    dist = distribute.setup(config.train, listener)  # distributed: before any TF op
    session = Session(config, _preprocessed(config, listener), listener, chosen)  # no run yet
    _check_init_from(config)
    with distribute.run_folder(config.name) as (run_id, run_dir):  # non-chief: a temp dir
        with runs.RunLock(run_dir, new=True), guarded(run_dir) as stop, dist.failures():
            # distributed: only the chief records (TensorBoard, MLflow)
            with (
                framework.configured(config, listener),
                tracking.recording(session, run_dir, dist.is_chief),
            ):
                metrics, checks = _train_in(session, run_dir, argv, stop)
                if dist.is_chief:
                    session.complete(run_dir)
    if not dist.is_chief:
        return TrainResult(None, None, {}, checks, worker=dist.describe())
    return TrainResult(run_id, run_dir, metrics, checks)


def _preprocessed(config: ExperimentConfig, listener: Listener) -> Processed:
    """The processed dataset (cached), told to the listener with its summary and audit."""
    listener.phase("preprocess", "reading, checking and splitting the data")
    data = preprocess(config)
    listener.dataset(data.manifest, data.path, data.hit)
    return data


def _check_init_from(config: ExperimentConfig) -> None:
    """An unknown `train.init_from` run is refused before a run exists."""
    if config.train.init_from is None:
        return
    try:
        runs.resolve_run(config.train.init_from.run)
    except DltrainError as exc:
        raise ConfigError(
            f"train.init_from: {exc.message}", where=config.where("train.init_from")
        ) from None


def _train_in(session: Session, run_dir: Path, argv: list[str], stop, on_epoch=None, test=True):
    """Sets the run up, checks, trains and (unless `test` is False) tests once."""
    if session.refit is not None:
        session.refit.write(run_dir)  # before config.yaml: resume reads it
    runfiles.write_setup(run_dir, session, argv)
    session.listener.run_started(run_dir, session.config)
    checks = session.sanity(run_dir)
    phase(run_dir, "training")
    model = session.built_model()  # the same with or without the sanity suite before it
    if session.config.train.init_from is not None:
        from dltrain.training import transfer

        transfer.init_from(model, session.config, run_dir)
    state = session.fit(run_dir, model, stop, LoopState(), on_epoch)
    if not distribute.current().is_chief:  # distributed: only the chief tests and reports
        return {}, checks
    if not test:  # a tuning trial: validation only, the test split stays unseen
        return state, checks
    return session.test(run_dir, checks)


def trial(
    config: ExperimentConfig, data: Processed, run_dir: Path, argv: list[str], on_epoch
) -> LoopState:
    """A tuning trial: one run trained and validated, its test split never scored.

    The run folder must exist; it is locked, and its status records how the trial ended.
    """
    session = Session(config, data)
    with runs.RunLock(run_dir), guarded(run_dir) as stop, framework.configured(config):
        with tracking.recording(session, run_dir):
            state, _ = _train_in(session, run_dir, argv, stop, on_epoch, test=False)
    return state


@contextlib.contextmanager
def checking(config: ExperimentConfig, listener: Listener = SILENT):
    """A session for `dltrain check` (preprocessed, framework state set); trains nothing."""
    tracking.check(config)
    session = Session(config, _preprocessed(config, listener), listener)
    with framework.configured(config, listener):
        yield session


def validation_operating_point(config: ExperimentConfig, folds: list[tuple[Path, Processed]]):
    """The decision threshold of a tuning trial, chosen on validation by
    `evaluate.threshold`: each fold's kept model (run_dir/model.keras) scored on its own val
    split, the scores pooled (out-of-fold, with k-fold), one threshold chosen on them.

    Returns:
        `choose_threshold`'s operating point, or None when the task has no threshold.

    Raises:
        RunError: a fold's model.keras is missing.
    """
    from dltrain.evaluation.threshold import choose_threshold

    ys, scores = [], []
    for run_dir, data in folds:
        session = Session(config, data)
        if not session.task.chooses_threshold:
            return None
        path = run_dir / "model.keras"
        if not path.is_file():
            raise RunError(f"{path} is missing: the trial's kept model is needed for its threshold")
        with framework.configured(config):  # as when a run scores its own val split
            scored = final.split_scores(load_model(path), session, "val")
        ys.append(scored.y)
        scores.append(scored.scores)
    return choose_threshold(config.evaluate.threshold, np.concatenate(ys), np.concatenate(scores))
