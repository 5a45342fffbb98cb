"""One trial: its values, its run folders (one per fold), its training, its value.

A trial is validated by the same schema as `dltrain train` (an invalid combination is a
failed trial with the reason), trains in a run folder of its own (`<study>-trial<N>`,
with `study.json` linking it to the study), and is judged on a validation metric only:
the test split is never scored by a trial. Per-epoch validation values feed the pruner.

Every call of dltrain.tuning into dltrain.training is at the end of this module.
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dltrain import records, runs
from dltrain.config import ExperimentConfig
from dltrain.errors import ConfigError, DataError, DivergedError, DltrainError, RunError
from dltrain.tuning.process import release_trial_memory
from dltrain.tuning.space import suggest, trial_config

TRIAL_FAILURES = (ConfigError, DataError, DivergedError)


@dataclass(frozen=True)
class StudySpec:
    """What every trial of this worker shares."""

    name: str  # the study
    config: ExperimentConfig  # the validated experiment (its `tune` section)
    config_path: Path  # the experiment file: each trial re-validates it with its values
    overrides: list[str]  # the `--set` overrides, applied to every trial
    argv: list[str]  # the command line, stored in each trial's command.txt
    storage: str  # the database URL, password hidden


@dataclass(frozen=True)
class Outcome:
    """How a trial ended: COMPLETE (with its value), PRUNED or FAIL (with the reason)."""

    state: str
    value: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class _Plan:
    config: ExperimentConfig
    params: dict[str, Any]
    first: Any  # the processed data of the first fold (or of the only split)
    folds: int | None
    metric: str


def run_trial(trial, spec: StudySpec) -> Outcome:
    """Samples, validates, trains (each fold) and judges one trial; never touches test.

    Raises only for Ctrl-C/SIGTERM and unexpected errors.
    """
    import optuna

    from dltrain.data.cache import preprocess

    trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
    try:
        plan = _plan(trial, spec)
    except TRIAL_FAILURES as exc:
        return Outcome("FAIL", reason=_reason(exc))
    values: list[float] = []
    epochs: list[int] = []  # each fold's best validation epoch (1-based): tune.final train+val
    run_ids: list[str] = []
    for index in range(plan.folds or 1):
        try:
            data = preprocess(plan.config, (index, plan.folds)) if index else plan.first
        except TRIAL_FAILURES as exc:
            return Outcome("FAIL", reason=_reason(exc))
        run_id, run_dir = _trial_run_dir(spec.name, trial.number, index if plan.folds else None)
        run_ids.append(run_id)
        trial.set_user_attr("runs", run_ids)
        link = _link(trial, spec, plan, index)
        runs.write_json(run_dir / "study.json", link)
        try:
            value, best_epoch = _train_fold(trial, spec, plan, data, index, run_dir, link)
        except optuna.TrialPruned as exc:
            records.set_status(run_dir, "pruned", message=str(exc))
            runs.write_json(run_dir / "study.json", {**link, "state": "PRUNED"})
            return Outcome("PRUNED", reason=str(exc))
        except TRIAL_FAILURES as exc:
            return Outcome("FAIL", reason=_reason(exc))
        finally:  # trials share the process
            release_trial_memory()
        values.append(value)
        epochs.append(best_epoch)
    trial.set_user_attr("best_epochs", epochs)
    mean = float(np.mean(values))
    if plan.folds:
        trial.set_user_attr(
            "cv", {"values": values, "mean": mean, "std": float(np.std(values, ddof=1))}
        )
    return Outcome("COMPLETE", value=mean)


def _plan(trial, spec: StudySpec) -> _Plan:
    from dltrain.data.cache import preprocess

    params = suggest(trial, spec.config)
    config = trial_config(spec.config_path, spec.overrides, params, trial.number)
    folds = config.tune.cv.folds if config.tune.cv else None
    first = preprocess(config, (0, folds) if folds else None)
    metric, _ = objective_of(config, task_of(config, first.manifest))
    return _Plan(config, params, first, folds, metric)


def _link(trial, spec: StudySpec, plan: _Plan, index: int) -> dict[str, Any]:
    """A trial run's study.json: what links it to its study."""
    return {
        "study": spec.name,
        "storage": spec.storage,
        "trial": trial.number,
        "fold": None if not plan.folds else {"index": index, "folds": plan.folds},
        "params": plan.params,
        "objective": plan.metric,
    }


def _train_fold(trial, spec: StudySpec, plan: _Plan, data, index: int, run_dir: Path, link):
    """Trains one fold in its run folder; returns its value and best epoch (1-based)
    (raises `TrialPruned`)."""
    on_epoch = _pruning(trial, plan.metric, index * plan.config.train.epochs)
    value, epoch = _train_trial(run_dir, plan.config, data, spec.argv, on_epoch, plan.metric)
    runs.write_json(run_dir / "study.json", {**link, "value": value, "best_epoch": epoch})
    records.set_status(run_dir, "completed", study=spec.name, trial=trial.number)
    return value, epoch


def _pruning(trial, metric: str, base_step: int):
    """The per-epoch callback: reports the validation value, and prunes on the pruner's word.
    Pruning steps run on over the folds: `fold * epochs + epoch`."""
    import optuna

    def report(epoch: int, row: dict, seconds: float) -> None:
        value = row.get(metric)
        if value is not None and math.isfinite(value):
            trial.report(float(value), base_step + epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}: {metric} {value:.4g}")

    return report


def _trial_run_dir(study: str, number: int, fold: int | None) -> tuple[str, Path]:
    name = f"{study}-trial{number}" + (f"-fold{fold + 1}" if fold is not None else "")
    root = runs.runs_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / name).mkdir()
        return name, root / name
    except FileExistsError:  # an older study of the same name left it: number it
        return runs.create_run(name)
    except OSError as exc:
        raise RunError(f"cannot create run folder {root / name}: {exc.strerror}") from None


def _reason(exc: DltrainError) -> str:
    """A failed trial's reason: the problems themselves first (they fit in a table cell)."""
    where = f"{exc.where}: " if exc.where else ""
    return "; ".join(exc.details) if exc.details else f"{where}{exc.message}"


def worker_gone(trial) -> bool:
    """Whether a RUNNING trial's worker is known to be gone: a process of this machine
    that no longer exists. (Elsewhere, only its heartbeat can tell.)"""
    worker = trial.user_attrs.get("worker") or {}
    return worker.get("host") == socket.gethostname() and not runs.process_alive(
        int(worker.get("pid", 0))
    )


def interrupt_runs(trial) -> None:
    """A lost trial's run folders that still say "running" now say "interrupted"."""
    for run_id in trial.user_attrs.get("runs", []):
        try:
            run_dir = runs.runs_root() / runs.validate_run_id(run_id)
            status = runs.read_json(run_dir / "status.json")
            if status.get("status") == "running":
                records.set_status(run_dir, "interrupted", message="its tune worker stopped")
        except (DltrainError, OSError, ValueError):
            continue


# --- the calls into dltrain.training (the only ones in dltrain.tuning) -----------------------


def task_of(config: ExperimentConfig, manifest: dict) -> str:
    """What the model learns: the data's task, or reconstruction for an autoencoder."""
    from dltrain.training.session import training_task

    return training_task(config, manifest)


def objective_of(config: ExperimentConfig, task: str) -> tuple[str, str]:
    """(metric, "minimize"|"maximize"); the metric must be measured for the task, and so
    must the early-stopping monitor (a `ConfigError` before any run exists)."""
    from dltrain.training.setup import monitor_of, validation_mode

    monitor, _ = monitor_of(config, task)
    metric = config.tune.objective.metric or monitor
    mode = validation_mode(config, task, metric, "tune.objective.metric")
    direction = config.tune.objective.direction
    if direction == "auto":
        direction = "maximize" if mode == "max" else "minimize"
    return metric, direction


def _train_trial(run_dir: Path, config: ExperimentConfig, data, argv, on_epoch, metric):
    """Trains in the (locked) run folder, validation only: the test split stays unseen;
    returns the `metric` at the epoch the run keeps, and that epoch (1-based). status.json
    records how it ended."""
    from dltrain.training import session

    state = session.trial(config, data, run_dir, argv, on_epoch)
    return float(state.history[state.best_epoch][metric]), state.best_epoch + 1


def train_final(config: ExperimentConfig, argv: list[str], chosen=None):
    """A normal `dltrain train` run of `config`: train, validate, test once; or with
    `chosen` (a `Refit`), a run trained on train+val (`session.train_on_train_val`)."""
    from dltrain.training.session import train, train_on_train_val

    if chosen is not None:
        return train_on_train_val(config, argv, chosen)
    return train(config, argv)


def refit(**fields):
    """A `dltrain.training.refit.Refit`: how a final run on train+val was chosen."""
    from dltrain.training.refit import Refit

    return Refit(**fields)


def validation_operating_point(config: ExperimentConfig, folds: list[tuple[Path, Any]]):
    """The threshold a trial's kept model(s) choose on validation, or None (no threshold
    for the task): `session.validation_operating_point`."""
    from dltrain.training.session import validation_operating_point

    return validation_operating_point(config, folds)
