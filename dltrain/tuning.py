"""`dltrain tune`: an Optuna study over `tune.space`; every trial is a normal run.

The study lives in a database: by default `runs/<study>/study.db` (SQLite, nothing to
start); a PostgreSQL (or MySQL) URL lets several `dltrain tune` processes, on one or many
machines, work on one study. The trials of a study are tickets: the study records how
many trials were asked for, the worker that raises that number (an atomic compare-and-set
in the database) enqueues the difference as Optuna WAITING trials, and every worker pops
tickets until none is left. Popping is atomic too, so two workers never run one trial
and the study ends with exactly the number of trials asked for.

A trial is validated by the same schema as `dltrain train` (an invalid combination is a
failed trial with the reason), trains in a run folder of its own (`<study>-trial<N>`,
with `study.json` linking it to the study), and is judged on a validation metric only:
the test split is never scored by a trial. Per-epoch validation values feed the pruner.
A trial whose worker died (killed, machine lost) is marked failed, on the next start on
the same machine at once and elsewhere once its heartbeat is older than the grace
period, and a fresh ticket replaces it.

When the study is complete the best trial's config is written as a ready-to-train
`runs/<study>/best.yaml`, with the optimisation history and parameter importances as
PNG; then (`tune.final: train`) the best config is trained as a normal run and tested
once: the only time the test split is looked at.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import shlex
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dltrain import console, records, runs
from dltrain.config import ExperimentConfig
from dltrain.config.load import Locator, apply_overrides, parse_yaml, validate
from dltrain.config.tune import Categorical, IntRange, LogUniform, Uniform
from dltrain.errors import (
    ConfigError,
    DataError,
    DivergedError,
    DltrainError,
    InterruptedRun,
    RunError,
    UsageError,
)

STUDY_DB = "study.db"
BEST_YAML = "best.yaml"
TRIALS_CSV = "trials.csv"
HISTORY_PNG = "tuning_optimisation_history.png"
IMPORTANCE_PNG = "tuning_parameter_importances.png"
HEARTBEAT_S = 30
GRACE_S = 120
SCHEMES = ("sqlite", "postgresql", "mysql")
# Settings a trial may not change: they decide which rows are test, or are not the model's.
FIXED = ("name", "seed", "tune", "evaluate", "data.path", "data.labels", "data.target",
         "data.split", "data.group", "data.id", "data.kind")  # fmt: skip
TRIAL_FAILURES = (ConfigError, DataError, DivergedError)
LOST = "its worker stopped without finishing it (killed, or the machine was lost)"


@dataclass(frozen=True)
class TuneResult:
    """What a worker leaves: the study, its folder, its trials and, if made, the final run."""

    study: str
    folder: Path
    storage: str
    counts: dict[str, int]
    best: dict | None
    final: Any | None


# --- the search space ---------------------------------------------------------------------


def check_space(config: ExperimentConfig) -> None:
    """Raises `ConfigError` (file:line, did-you-mean) for an empty space or a bad path."""
    where_tune = config.where("tune") or config.where("name")
    if not config.tune.space:
        raise ConfigError(
            "tune.space is empty, so there is nothing to search; add dotted config paths, "
            "e.g. tune: {space: {train.optimizer.learning_rate: {log_uniform: [1.0e-4, "
            "1.0e-2]}}}",
            where=where_tune,
        )
    raw = config.model_dump(mode="json")
    known = sorted(_leaves(raw))
    for key in config.tune.space:
        where = _where(config, ("tune", "space", key))
        path = key.split(".")
        fixed = next((f for f in FIXED if key == f or key.startswith(f + ".")), None)
        if fixed is not None:
            raise ConfigError(
                f"tune.space: {key!r} cannot be tuned: {fixed} is fixed for a study (it decides "
                "the data, its split or the test, or is not a model setting); remove it",
                where=where,
            )
        if not _exists(path, raw):
            import difflib

            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"tune.space: unknown config path {key!r}: no such setting in this "
                f"experiment ({config.model.architecture} model).{hint}",
                where=where,
            )


def _where(config: ExperimentConfig, path: tuple) -> str | None:
    locator = config._locator
    return locator.where(path) if locator is not None else None


def _leaves(node: Any, prefix: str = "") -> set[str]:
    out = set()
    if isinstance(node, dict):
        for k, v in node.items():
            name = f"{prefix}{k}"
            out.add(name)
            out |= _leaves(v, name + ".")
    return out


def _exists(path: list[str], raw: dict) -> bool:
    from dltrain.config.load import _allowed_keys

    node: Any = raw
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    if isinstance(node, dict) and path[-1] in node:
        return True
    return path[-1] in _allowed_keys(tuple(path[:-1]), raw)


def suggest(trial, config: ExperimentConfig) -> dict[str, Any]:
    """The trial's value for every path of `tune.space` (lists come from JSON choices)."""
    params = {}
    for key, dist in config.tune.space.items():
        if isinstance(dist, Uniform):
            params[key] = trial.suggest_float(key, *dist.uniform)
        elif isinstance(dist, LogUniform):
            params[key] = trial.suggest_float(key, *dist.log_uniform, log=True)
        elif isinstance(dist, IntRange):
            params[key] = trial.suggest_int(key, *dist.int)
        elif isinstance(dist, Categorical):
            choices = dist.categorical
            if all(not isinstance(c, list) for c in choices):
                params[key] = trial.suggest_categorical(key, choices)
            else:  # Optuna stores scalars only: lists are chosen as their JSON text
                params[key] = json.loads(
                    trial.suggest_categorical(key, [json.dumps(c) for c in choices])
                )
    return params


def trial_config(
    path: Path, overrides: list[str], params: dict[str, Any], number: int
) -> ExperimentConfig:
    """The experiment file + `--set` overrides + the trial's values, validated by the schema.

    Raises:
        ConfigError: the combination is invalid; it names the trial's values.
    """
    data, lines = parse_yaml(Path(path).read_text(encoding="utf-8"), str(path))
    locator = Locator(str(path), lines)
    data = apply_overrides(data or {}, overrides, locator)
    for key, value in params.items():
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"tune.space {key!r}: {part} is not a section ({child!r})")
            node = child
        node[parts[-1]] = value
        locator.overrides[tuple(parts)] = f"{key}={value!r} (tune trial {number})"
    return validate(data, locator)


# --- storage and study --------------------------------------------------------------------


def study_folder(name: str) -> Path:
    """`runs/<study>/`: the SQLite database, best.yaml, trials.csv and the plots."""
    runs.validate_run_id(name)
    return runs.runs_root() / name


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and files."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: nothing to hide worth the risk
        return url.split("@")[-1] if "@" in url else url


def default_storage(study: str) -> str:
    folder = study_folder(study)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the study folder {folder}: {exc.strerror}") from None
    return f"sqlite:///{(folder / STUDY_DB).resolve()}"


def open_storage(url: str):
    """An Optuna RDB storage with heartbeats; a bad or unreachable URL is a `UsageError`."""
    import optuna
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

    shown = redact(url)
    fix = (
        "Use sqlite:///path/to/study.db, or postgresql+psycopg://user:password@host:5432/"
        "database (needs `pip install 'dltrain[postgres]'`)"
    )
    try:
        scheme = make_url(url).get_backend_name()
    except ArgumentError:
        raise UsageError(f"--storage {shown!r} is not a database URL. {fix}") from None
    if scheme not in SCHEMES:
        raise UsageError(
            f"--storage: unsupported database {scheme!r} in {shown!r}; use one of "
            f"{', '.join(SCHEMES)}. {fix}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            for attempt in range(5):
                try:
                    return optuna.storages.RDBStorage(
                        url,
                        heartbeat_interval=HEARTBEAT_S,
                        grace_period=GRACE_S,
                        heartbeat_stale_trial_callback=_replace_ticket,
                    )
                except IntegrityError:  # another worker is creating the tables right now
                    if attempt == 4:
                        raise
                    time.sleep(0.5 + attempt)
        except ImportError as exc:
            raise UsageError(
                f"--storage {shown!r} needs a database driver that is not installed "
                f"({exc.name or exc}); install it with: pip install 'dltrain[postgres]'"
            ) from None
        except (SQLAlchemyError, OSError, ValueError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise UsageError(
                f"cannot open the study database {shown!r}: {reason}. Check the URL, that "
                "the server is running and reachable, and the user's rights"
            ) from None


def _pruner(config: ExperimentConfig):
    import optuna

    p = config.tune.pruner
    folds = config.tune.cv.folds if config.tune.cv else 1
    if p.name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_epochs
        )
    if p.name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=p.min_epochs,
            max_resource=max(config.train.epochs * folds, p.min_epochs),
            reduction_factor=p.reduction_factor,
        )
    return optuna.pruners.NopPruner()


def _sampler(config: ExperimentConfig):
    import optuna

    # Workers must not draw the same values: the sampler's seed differs per process. Each
    # trial's training is still seeded by `seed`, so a trial's run is reproducible.
    seed = (config.seed * 1_000_003 + os.getpid()) % (2**32)
    if config.tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def objective_of(config: ExperimentConfig, task: str) -> tuple[str, str]:
    """(metric, "minimize"|"maximize"); the metric must be measured for the task."""
    from dltrain.training.setup import monitor_of, validation_mode

    monitor, _ = monitor_of(config, task)
    metric = config.tune.objective.metric or monitor
    mode = validation_mode(config, task, metric, "tune.objective.metric")
    direction = config.tune.objective.direction
    if direction == "auto":
        direction = "maximize" if mode == "max" else "minimize"
    return metric, direction


def open_study(storage, name: str, config: ExperimentConfig, metric: str, direction: str, n: int):
    """Creates the study with `n` tickets, or loads it and adds tickets up to `n`."""
    import optuna

    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction=direction,
            sampler=_sampler(config),
            pruner=_pruner(config),
        )
        study.set_user_attr("objective", {"metric": metric, "direction": direction})
        _enqueue(study, _raise_target(storage, study._study_id, n))
        return study
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=name, storage=storage, sampler=_sampler(config), pruner=_pruner(config)
        )
    stored = study.user_attrs.get("objective", {})
    if stored and (stored.get("metric"), stored.get("direction")) != (metric, direction):
        raise ConfigError(
            f"study {name!r} optimises {stored.get('metric')} ({stored.get('direction')}), "
            f"but this config asks for {metric} ({direction}); keep the objective, or start a "
            "new study with --study NEW_NAME",
            where=config.where("tune.objective"),
        )
    # A raised target continues the study with more tickets.
    _enqueue(study, _raise_target(storage, study._study_id, n))
    return study


class _Raced(Exception):
    pass


def _raise_target(storage, study_id: int, n: int) -> int:
    """Raises the study's ticket target to `n`; returns how many tickets this worker adds.

    Workers start together: reading the target and writing a new one must be one atomic
    step, or two workers both see "no target yet" and each enqueue `n` tickets (a study of
    2n trials). Optuna has no compare-and-set for user attributes, so this does one in
    Optuna's own table (`study_user_attributes`, unique on study and key): the first
    target is an INSERT (a second insert fails on the unique key), a raise is an UPDATE
    that only matches the value it read. The loser reads again and finds nothing to add.
    A worker killed between winning and enqueueing leaves the study short of tickets.
    """
    from optuna.storages._rdb.models import StudyUserAttributeModel as Attr
    from sqlalchemy import insert, select, update
    from sqlalchemy.exc import IntegrityError, OperationalError

    where = (Attr.study_id == study_id, Attr.key == "target")
    for attempt in range(50):
        try:
            with storage.engine.begin() as connection:
                stored = connection.execute(select(Attr.value_json).where(*where)).scalar()
                current = 0 if stored is None else int(json.loads(stored))
                if n <= current:
                    return 0
                new = json.dumps(n)
                if stored is None:
                    connection.execute(
                        insert(Attr).values(study_id=study_id, key="target", value_json=new)
                    )
                elif not connection.execute(
                    update(Attr).where(*where, Attr.value_json == stored).values(value_json=new)
                ).rowcount:
                    raise _Raced  # another worker changed it since we read it
            return n - current
        except (_Raced, IntegrityError, OperationalError):  # lost the race, or SQLite busy
            time.sleep(0.05 * (attempt + 1))
    raise RunError("could not record the study's number of trials: the database stayed busy")


def _enqueue(study, n: int) -> None:
    for _ in range(n):
        study.enqueue_trial({}, skip_if_exists=False)


def _replace_ticket(study, trial) -> None:
    """Optuna's failed-trial callback (and ours): a trial lost with its worker gets a fresh
    ticket, so the study still reaches its number of finished trials."""
    import optuna

    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):  # already FAIL
        study._storage.set_trial_user_attr(trial._trial_id, "fail_reason", LOST)
    for run_id in trial.user_attrs.get("runs", []):
        with contextlib.suppress(DltrainError, OSError, ValueError):
            run_dir = runs.runs_root() / runs.validate_run_id(run_id)
            status = runs.read_json(run_dir / "status.json")
            if status.get("status") == "running":
                records.set_status(run_dir, "interrupted", message="its tune worker stopped")
    study.enqueue_trial({}, user_attrs={"replaces": trial.number}, skip_if_exists=False)


def fail_lost_trials(study) -> list[int]:
    """Marks as failed the RUNNING trials whose worker is gone; returns their numbers.

    On this machine a worker is gone when its process no longer exists (at once); on
    another machine when its heartbeat is older than the grace period (Optuna's check).
    """
    import optuna
    from optuna.trial import TrialState

    failed = []
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker") or {}
        if worker.get("host") != host or runs._alive(int(worker.get("pid", 0))):
            continue
        try:
            study._storage.set_trial_user_attr(trial._trial_id, "fail_reason", LOST)
            if study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                _replace_ticket(study, trial)
                failed.append(trial.number)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        failed += list(optuna.storages.fail_stale_trials(study) or [])
    return failed


def _fail_lost(study, name: str) -> None:
    """Fails (and replaces) lost trials, and says so."""
    lost = fail_lost_trials(study)
    if lost:
        console.warn(
            f"trial(s) {', '.join(map(str, lost))} of study {name!r} were left running by a "
            "worker that stopped; marked failed, and new trials replace them"
        )


def _pop_ticket(study):
    """The next WAITING trial, now RUNNING and ours, or None when the study is done."""
    import optuna

    trial_id = study._pop_waiting_trial_id()  # atomic in the database (Study.ask uses it)
    return None if trial_id is None else optuna.Trial(study, trial_id)


class _Heartbeat:
    """Records the trial's heartbeat every HEARTBEAT_S seconds while it runs."""

    def __init__(self, storage, trial_id: int):
        self.storage, self.trial_id = storage, trial_id
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed beat must not kill training
                self.storage.record_heartbeat(self.trial_id)
            if self.done.wait(HEARTBEAT_S):
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join(timeout=5)


# --- one trial ----------------------------------------------------------------------------


@dataclass
class _Outcome:
    state: str
    value: float | None = None
    reason: str | None = None


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


def run_trial(
    trial, base: ExperimentConfig, study_name, config_path: Path, overrides, argv, storage
):
    """Samples, validates, trains (each fold) and judges one trial; never touches test.

    Returns (outcome, params); raises only for Ctrl-C/SIGTERM and unexpected errors.
    """
    import keras
    import optuna

    from dltrain.data.cache import preprocess
    from dltrain.training import session
    from dltrain.training.setup import monitor_of

    trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
    try:
        params = suggest(trial, base)
        config = trial_config(config_path, overrides, params, trial.number)
        folds = config.tune.cv.folds if config.tune.cv else None
        first = preprocess(config, (0, folds) if folds else None)
        task = session.training_task(config, first.manifest)
        metric, _ = objective_of(config, task)
        monitor_of(config, task)
    except TRIAL_FAILURES as exc:
        return _Outcome("FAIL", reason=_reason(exc)), {}
    values: list[float] = []
    run_ids: list[str] = []
    epochs = config.train.epochs
    for index in range(folds or 1):
        fold = (index, folds) if folds else None
        try:
            data = preprocess(config, fold) if index else first
        except TRIAL_FAILURES as exc:
            return _Outcome("FAIL", reason=_reason(exc)), params
        run_id, run_dir = _trial_run_dir(study_name, trial.number, index if folds else None)
        run_ids.append(run_id)
        trial.set_user_attr("runs", run_ids)
        link = {
            "study": study_name,
            "storage": redact(str(storage.url)) if hasattr(storage, "url") else None,
            "trial": trial.number,
            "fold": None if fold is None else {"index": index, "folds": folds},
            "params": params,
            "objective": metric,
        }
        runs.write_json(run_dir / "study.json", link)

        def report(epoch: int, row: dict, seconds: float, base_step: int = index * epochs) -> None:
            value = row.get(metric)
            if value is not None and math.isfinite(value):
                trial.report(float(value), base_step + epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}: {metric} {value:.4g}")

        try:
            state = session.trial(config, data, run_dir, argv, report)
            value = float(state.history[state.best_epoch][metric])
            runs.write_json(run_dir / "study.json", {**link, "value": value})
            records.set_status(run_dir, "completed", study=study_name, trial=trial.number)
        except optuna.TrialPruned as exc:
            records.set_status(run_dir, "pruned", message=str(exc))
            runs.write_json(run_dir / "study.json", {**link, "state": "PRUNED"})
            return _Outcome("PRUNED", reason=str(exc)), params
        except TRIAL_FAILURES as exc:
            return _Outcome("FAIL", reason=_reason(exc)), params
        finally:  # trials share the process: drop the graph, collect the model's cycles
            keras.backend.clear_session(free_memory=False)
            gc.collect()  # fast: the objects before the first trial are frozen (see `tune`)
        values.append(value)
    mean = float(np.mean(values))
    if folds:
        trial.set_user_attr(
            "cv", {"values": values, "mean": mean, "std": float(np.std(values, ddof=1))}
        )
    return _Outcome("COMPLETE", value=mean), params


# --- the study ----------------------------------------------------------------------------


def tune(
    config: ExperimentConfig,
    config_path: Path,
    overrides: list[str],
    argv: list[str],
    *,
    trials: int | None = None,
    storage_url: str | None = None,
    study_name: str | None = None,
) -> TuneResult:
    """Runs this worker's share of the study, then (once it is complete) its outputs.

    Args:
        config: the validated experiment (its `tune` section).
        config_path: the experiment file (each trial re-validates it with its values).
        overrides: the `--set` overrides, applied to every trial.
        argv: the command line, stored in each trial's command.txt.
        trials: the study's number of trials. Defaults to `tune.trials`.
        storage_url: a database URL. Defaults to SQLite in `runs/<study>/`.
        study_name: the study. Defaults to the config's name.

    Returns:
        The study, its trial counts, the best trial and the final run, if made.
    """
    import optuna
    from optuna.trial import TrialState

    from dltrain.data.cache import preprocess
    from dltrain.training.session import training_task

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check_space(config)
    name = study_name or config.name
    folder = study_folder(name)
    url = storage_url or default_storage(name)
    storage = open_storage(url)
    task = training_task(config, preprocess(config).manifest)
    metric, direction = objective_of(config, task)
    study = open_study(storage, name, config, metric, direction, trials or config.tune.trials)
    table = _TrialTable(study, metric, list(config.tune.space))
    # TensorFlow and Keras are ~440k long-lived objects: a full garbage collection after
    # each trial took 0.5-1.2 s on 2 cores. Frozen, they are skipped (~0.01 s).
    gc.collect()
    gc.freeze()
    with contextlib.ExitStack() as stack:
        stack.callback(gc.unfreeze)
        live = stack.enter_context(console.live(table.render()))
        while True:
            _fail_lost(study, name)  # before each trial: a lost trial's ticket comes back
            trial = _pop_ticket(study)
            if trial is None:
                break
            table.running = trial.number
            live.update(table.render())
            with _Heartbeat(storage, trial._trial_id):
                try:
                    outcome, _ = run_trial(
                        trial, config, name, config_path, overrides, argv, storage
                    )
                except (InterruptedRun, KeyboardInterrupt) as exc:  # Ctrl-C or SIGTERM
                    code = exc.exit_code if isinstance(exc, InterruptedRun) else 130
                    how = "SIGTERM" if code == 143 else "Ctrl-C"
                    trial.set_user_attr("fail_reason", f"stopped by {how}")
                    study.tell(trial, state=TrialState.FAIL)
                    study.enqueue_trial({}, user_attrs={"replaces": trial.number})
                    again = " ".join(shlex.quote(a) for a in argv)
                    raise InterruptedRun(
                        f"study {name!r} stopped by {how} during trial {trial.number}, which is "
                        f"marked failed and will be replaced; continue the study with: {again}",
                        signal_exit_code=code,
                    ) from None
                except BaseException as exc:  # a bug: the trial failed, and so does tune
                    trial.set_user_attr("fail_reason", f"stopped: {type(exc).__name__}: {exc}")
                    study.tell(trial, state=TrialState.FAIL)
                    raise
            if outcome.reason:
                trial.set_user_attr("fail_reason", outcome.reason)
            if outcome.state == "COMPLETE":
                study.tell(trial, outcome.value)
            else:
                study.tell(trial, state=TrialState[outcome.state])
            table.running = None
            live.update(table.render())
    return finish_study(study, name, folder, config, config_path, overrides, url, argv)


def finish_study(study, name, folder, config, config_path, overrides, url, argv) -> TuneResult:
    """Once no trial is waiting or running: trials.csv, best.yaml, plots, the final run."""
    from optuna.trial import TrialState

    all_trials = study.get_trials(deepcopy=False)
    counts = {s.name: sum(t.state == s for t in all_trials) for s in TrialState}
    counts = {k: v for k, v in counts.items() if v}
    folder.mkdir(parents=True, exist_ok=True)
    _write_trials_csv(folder / TRIALS_CSV, all_trials)
    if counts.get("WAITING") or counts.get("RUNNING"):  # other workers are still at it
        return TuneResult(name, folder, redact(url), counts, None, None)
    complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
    if not complete:
        reasons = sorted({t.user_attrs.get("fail_reason", t.state.name) for t in all_trials})
        raise ConfigError(
            f"no trial of study {name!r} completed, so there is no best config. The reasons "
            "(fix the space or the config, then run again with --study NEW_NAME):",
            details=[r.splitlines()[0] for r in reasons][:10],
        )
    best = study.best_trial
    best_config = trial_config(config_path, overrides, _params(best, config), best.number)
    metric = (study.user_attrs.get("objective") or {}).get("metric", "objective")
    _write_best_yaml(folder / BEST_YAML, best_config, best, name, metric)
    plots = _plots(study, folder)
    info = {
        "number": best.number,
        "value": best.value,
        "params": _params(best, config),
        "runs": best.user_attrs.get("runs", []),
        "cv": best.user_attrs.get("cv"),
    }
    final = None
    if config.tune.final == "train" and _claim_final(folder, study, len(all_trials)):
        final = _final_run(best_config, folder, name, best, plots, argv)
        study.set_user_attr("final_run", {"trials": len(all_trials), "run": final.run_id})
    runs.write_json(
        folder / "study.json",
        {
            "study": name,
            "storage": redact(url),
            "objective": study.user_attrs.get("objective"),
            "trials": counts,
            "best": info,
            "final_run": (study.user_attrs.get("final_run") or {}).get("run"),
        },
    )
    return TuneResult(name, folder, redact(url), counts, info, final)


def _params(trial, config: ExperimentConfig) -> dict[str, Any]:
    out = {}
    for key, value in trial.params.items():
        dist = config.tune.space.get(key)
        lists = isinstance(dist, Categorical) and any(isinstance(c, list) for c in dist.categorical)
        out[key] = json.loads(value) if lists else value
    return out


def _write_best_yaml(path: Path, config: ExperimentConfig, trial, study: str, metric) -> None:
    from dltrain.data.tabular import config_file, resolve_data_path

    data = config.model_dump(mode="json")
    for key in ("path", "labels"):  # absolute, so the file trains from anywhere
        if data["data"].get(key):
            where = config_file(config.where(f"data.{key}"))
            data["data"][key] = str(resolve_data_path(data["data"][key], where).resolve())
    import yaml

    head = (
        f"# The best config of study {study!r}: trial {trial.number}, "
        f"{metric} = {trial.value:.6g} on validation.\n"
        f"# Train and test it with: dltrain train {path}\n"
    )
    runs.atomic_write_text(path, head + yaml.safe_dump(data, sort_keys=False))


def _write_trials_csv(path: Path, trials) -> None:
    import csv
    import io

    keys = sorted({k for t in trials for k in t.params})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["trial", "state", "value", "cv_std", *keys, "runs", "reason"])
    for t in trials:
        cv = t.user_attrs.get("cv") or {}
        writer.writerow(
            [
                t.number,
                t.state.name,
                "" if t.value is None else repr(t.value),
                "" if "std" not in cv else repr(cv["std"]),
                *(t.params.get(k, "") for k in keys),
                " ".join(t.user_attrs.get("runs", [])),
                _first_line(_why(t)),
            ]
        )
    runs.atomic_write_text(path, buf.getvalue())


def _plots(study, folder: Path) -> list[Path]:
    """Optimisation history and parameter importances (PNG) in the study folder."""
    import optuna
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    made = []
    drawers = [
        (HISTORY_PNG, optuna.visualization.matplotlib.plot_optimization_history),
        (IMPORTANCE_PNG, optuna.visualization.matplotlib.plot_param_importances),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for filename, draw in drawers:
            try:
                ax = draw(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                console.warn(f"no {filename} for study {study.study_name!r}: {exc}")
                continue
            figure = ax.figure
            figure.set_size_inches(7, 4.5)
            figure.tight_layout()
            FigureCanvasAgg(figure)
            import io

            buf = io.BytesIO()
            figure.savefig(buf, format="png", dpi=100)
            import matplotlib.pyplot as plt

            plt.close(figure)
            runs.atomic_write_bytes(folder / filename, buf.getvalue())
            made.append(folder / filename)
    return made


def _claim_final(folder: Path, study, n_trials: int) -> bool:
    """Only one worker retrains the best of these `n_trials` trials: per runs folder (an
    atomic mkdir), and per study as far as it can see (the study's `final_run`)."""
    if (study.user_attrs.get("final_run") or {}).get("trials") == n_trials:
        return False
    try:
        (folder / f"final-{n_trials}.claim").mkdir()
    except FileExistsError:
        return False
    return True


def _final_run(config: ExperimentConfig, folder: Path, study: str, best, plots, argv):
    """The best config as a normal run: train, validate, then the one look at test."""
    import shutil

    from dltrain.evaluation.plots import make_plots
    from dltrain.evaluation.report import write_report
    from dltrain.training.session import train

    result = train(config, [*argv, "# final run of study", study])
    runs.write_json(
        result.run_dir / "study.json",
        {"study": study, "role": "final", "best_trial": best.number, "value": best.value},
    )
    extra = []
    for path in plots:
        target = result.run_dir / "plots" / path.name
        shutil.copyfile(path, target)
        extra.append(target)
    if extra:
        write_report(result.run_dir, make_plots(result.run_dir) + extra)
    return result


# --- display ------------------------------------------------------------------------------


class _TrialTable:
    """The live table of a study's trials (all workers), newest last."""

    SHOWN = 15

    def __init__(self, study, metric: str, keys: list[str]):
        self.study, self.metric, self.keys = study, metric, keys
        self.running: int | None = None

    def render(self):
        trials = self.study.get_trials(deepcopy=False)
        done = [t for t in trials if t.state.name not in ("WAITING",)]
        rows = []
        for t in done[-self.SHOWN :]:
            state = "RUNNING (here)" if t.number == self.running else t.state.name
            cv = t.user_attrs.get("cv")
            value = "" if t.value is None else f"{t.value:.4f}"
            if cv:
                value += f" ± {cv['std']:.4f}"
            rows.append(
                [
                    str(t.number),
                    state,
                    value,
                    *(_short(t.params.get(k, "")) for k in self.keys),
                    _first_line(_why(t))[:80],
                ]
            )
        waiting = sum(t.state.name == "WAITING" for t in trials)
        return console.make_table(
            f"Study {self.study.study_name}: {self.metric} ({waiting} trial(s) waiting)",
            ["trial", "state", self.metric, *self.keys, "note"],
            rows,
        )


def _why(trial) -> str | None:
    """Why a trial failed or was pruned; a trial failed by Optuna's heartbeat check has no
    reason of its own, but its replacement says which trial it replaces."""
    reason = trial.user_attrs.get("fail_reason")
    return LOST if reason is None and trial.state.name == "FAIL" else reason


def _reason(exc: DltrainError) -> str:
    """A failed trial's reason: the problems themselves first (they fit in a table cell)."""
    where = f"{exc.where}: " if exc.where else ""
    return "; ".join(exc.details) if exc.details else f"{where}{exc.message}"


def _first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def refuse_trial(run_id: str, command: str) -> None:
    """Raises `UsageError` when `run_id` is a trial run: a trial never scores the test split,
    and a lost trial is replaced by `dltrain tune`, not resumed."""
    path = runs.resolve_run(run_id) / "study.json"
    if not path.is_file():
        return
    link = runs.read_json(path)
    if link.get("role") == "final":
        return
    raise UsageError(
        f"run {run_id} is trial {link.get('trial')} of study {link.get('study')!r}; `dltrain "
        f"{command}` would score it on the test split, which trials never see. Re-run "
        "`dltrain tune` to continue the study (lost trials are replaced), and train or "
        f"evaluate its best config (runs/{link.get('study')}/best.yaml) instead"
    )


def study_runs(study: str) -> list[dict]:
    """The trial runs (and the final run) of a study, from their study.json files."""
    study_folder(study)
    rows = []
    for r in runs.list_runs():
        link_path = runs.runs_root() / r["id"] / "study.json"
        if not link_path.is_file():
            continue
        with contextlib.suppress(RunError):
            link = runs.read_json(link_path)
            if link.get("study") == study:
                rows.append({**r, "link": link})
    rows.sort(key=lambda r: (r["link"].get("trial", math.inf), r["id"]))
    return rows
