"""The study loop: open the study, take tickets until none is left, then finish.

A worker opens (or joins) the study, raises its number of trials, and runs one trial
after another until no ticket is left. When no trial is waiting or running any more,
the worker that sees it writes the study's outputs, and one worker (`tune.final:
train`, or `train+val`) trains the best config as a normal run (or on train+val) and
tests it once.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dltrain import runs
from dltrain.config import ExperimentConfig
from dltrain.errors import ConfigError, InterruptedRun
from dltrain.tuning import outputs
from dltrain.tuning.process import trials_in_this_process
from dltrain.tuning.reporting import Reporter, Silent, progress
from dltrain.tuning.space import check_space, trial_config, trial_params
from dltrain.tuning.storage import Tickets, default_storage, open_storage, redact
from dltrain.tuning.trial import (
    Outcome,
    StudySpec,
    interrupt_runs,
    objective_of,
    run_trial,
    task_of,
    worker_gone,
)


@dataclass(frozen=True)
class TuneResult:
    """What a worker leaves: the study, its folder, its trials and, if made, the final run."""

    study: str
    folder: Path
    storage: str
    counts: dict[str, int]
    best: dict | None
    final: Any | None


def tune(
    config: ExperimentConfig,
    config_path: Path,
    overrides: list[str],
    argv: list[str],
    *,
    trials: int | None = None,
    storage_url: str | None = None,
    study_name: str | None = None,
    reporter: Reporter | None = None,
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
        reporter: told about trials, lost trials and failed plots. Defaults to `Silent`.

    Returns:
        The study, its trial counts, the best trial and the final run, if made.
    """
    import optuna

    from dltrain.data.cache import preprocess

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    reporter = reporter or Silent()
    check_space(config)
    name = study_name or config.name
    folder = outputs.study_folder(name)
    url = storage_url or default_storage(folder)
    storage = open_storage(url, on_lost=interrupt_runs)
    metric, direction = objective_of(config, task_of(config, preprocess(config).manifest))
    study = open_study(storage, name, config, metric, direction, trials or config.tune.trials)
    spec = StudySpec(name, config, Path(config_path), list(overrides), argv, redact(url))
    with trials_in_this_process():
        _take_tickets(Tickets(storage, study), spec, metric, reporter)
    return finish_study(study, spec, folder, reporter)


def _take_tickets(tickets: Tickets, spec: StudySpec, metric: str, reporter: Reporter) -> None:
    """Runs trials until no ticket is left; a lost trial's ticket comes back first."""
    study, keys = tickets.study, list(spec.config.tune.space)
    reporter.trials_started(progress(study, metric, keys))
    try:
        while True:
            lost = tickets.fail_lost(worker_gone)
            if lost:
                reporter.trials_lost(spec.name, lost)
            trial = tickets.pop()
            if trial is None:
                return
            reporter.trial_changed(progress(study, metric, keys, running=trial.number))
            with tickets.heartbeat(trial):
                outcome = _run(tickets, trial, spec)
            _tell(study, trial, outcome)
            reporter.trial_changed(progress(study, metric, keys))
    finally:
        reporter.trials_ended()


def _run(tickets: Tickets, trial, spec: StudySpec) -> Outcome:
    """`run_trial`; a trial stopped by Ctrl-C/SIGTERM fails and gets a fresh ticket, a
    trial stopped by a bug fails, and both stop the worker."""
    from optuna.trial import TrialState

    try:
        return run_trial(trial, spec)
    except (InterruptedRun, KeyboardInterrupt) as exc:  # Ctrl-C or SIGTERM
        code = exc.exit_code if isinstance(exc, InterruptedRun) else 130
        how = "SIGTERM" if code == 143 else "Ctrl-C"
        trial.set_user_attr("fail_reason", f"stopped by {how}")
        tickets.study.tell(trial, state=TrialState.FAIL)
        tickets.replace(trial)
        again = " ".join(shlex.quote(a) for a in spec.argv)
        raise InterruptedRun(
            f"study {spec.name!r} stopped by {how} during trial {trial.number}, which is "
            f"marked failed and will be replaced; continue the study with: {again}",
            signal_exit_code=code,
        ) from None
    except BaseException as exc:  # a bug: the trial failed, and so does tune
        trial.set_user_attr("fail_reason", f"stopped: {type(exc).__name__}: {exc}")
        tickets.study.tell(trial, state=TrialState.FAIL)
        raise


def _tell(study, trial, outcome: Outcome) -> None:
    from optuna.trial import TrialState

    if outcome.reason:
        trial.set_user_attr("fail_reason", outcome.reason)
    if outcome.state == "COMPLETE":
        study.tell(trial, outcome.value)
    else:
        study.tell(trial, state=TrialState[outcome.state])


def open_study(storage, name: str, config: ExperimentConfig, metric: str, direction: str, n: int):
    """Creates the study with `n` tickets, or loads it and adds tickets up to `n`; a loaded
    study must optimise the same metric in the same direction (else a `ConfigError`)."""
    import optuna

    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction=direction,
            sampler=sampler(config),
            pruner=pruner(config),
        )
        study.set_user_attr("objective", {"metric": metric, "direction": direction})
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=name, storage=storage, sampler=sampler(config), pruner=pruner(config)
        )
        stored = study.user_attrs.get("objective", {})
        if stored and (stored.get("metric"), stored.get("direction")) != (metric, direction):
            raise ConfigError(
                f"study {name!r} optimises {stored.get('metric')} ({stored.get('direction')}), "
                f"but this config asks for {metric} ({direction}); keep the objective, or start "
                "a new study with --study NEW_NAME",
                where=config.where("tune.objective"),
            ) from None
    Tickets(storage, study).raise_target(n)  # a raised target continues the study
    return study


def pruner(config: ExperimentConfig):
    """The Optuna pruner of `tune.pruner`; its steps run over every fold."""
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


def sampler(config: ExperimentConfig):
    """The Optuna sampler of `tune.sampler`, seeded per worker process."""
    import optuna

    # Workers must not draw the same values: the sampler's seed differs per process. Each
    # trial's training is still seeded by `seed`, so a trial's run is reproducible.
    seed = (config.seed * 1_000_003 + os.getpid()) % (2**32)
    if config.tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def finish_study(study, spec: StudySpec, folder: Path, reporter: Reporter) -> TuneResult:
    """Once no trial is waiting or running: trials.csv, best.yaml, plots, the final run."""
    from optuna.trial import TrialState

    all_trials = study.get_trials(deepcopy=False)
    counts = {s.name: sum(t.state == s for t in all_trials) for s in TrialState}
    counts = {k: v for k, v in counts.items() if v}
    folder.mkdir(parents=True, exist_ok=True)
    outputs.write_trials_csv(folder / outputs.TRIALS_CSV, all_trials)
    if counts.get("WAITING") or counts.get("RUNNING"):  # other workers are still at it
        return TuneResult(spec.name, folder, spec.storage, counts, None, None)
    if not any(t.state == TrialState.COMPLETE for t in all_trials):
        reasons = sorted({t.user_attrs.get("fail_reason", t.state.name) for t in all_trials})
        raise ConfigError(
            f"no trial of study {spec.name!r} completed, so there is no best config. The "
            "reasons (fix the space or the config, then run again with --study NEW_NAME):",
            details=[r.splitlines()[0] for r in reasons][:10],
        )
    best = study.best_trial
    info = {
        "number": best.number,
        "value": best.value,
        "params": trial_params(best, spec.config),
        "runs": best.user_attrs.get("runs", []),
        "cv": best.user_attrs.get("cv"),
    }
    final = _best_outputs(study, best, spec, folder, reporter, len(all_trials))
    runs.write_json(
        folder / "study.json",
        {
            "study": spec.name,
            "storage": spec.storage,
            "objective": study.user_attrs.get("objective"),
            "trials": counts,
            "best": info,
            "final_run": (study.user_attrs.get("final_run") or {}).get("run"),
        },
    )
    return TuneResult(spec.name, folder, spec.storage, counts, info, final)


def _best_outputs(study, best, spec: StudySpec, folder: Path, reporter: Reporter, n_trials: int):
    """best.yaml and the plots; then the final run, if this worker claims it."""
    params = trial_params(best, spec.config)
    best_config = trial_config(spec.config_path, spec.overrides, params, best.number)
    metric = (study.user_attrs.get("objective") or {}).get("metric", "objective")
    outputs.write_best_yaml(folder / outputs.BEST_YAML, best_config, best, spec.name, metric)
    plots = outputs.write_plots(study, folder, reporter)
    if spec.config.tune.final == "none" or not outputs.claim_final(folder, study, n_trials):
        return None
    chosen = None
    if spec.config.tune.final == "train+val":
        settings, chosen = outputs.refit_choice(best_config, spec.name, best)
        best_config = trial_config(spec.config_path, spec.overrides, params, best.number, settings)
    final = outputs.final_run(best_config, spec.name, best, plots, spec.argv, chosen)
    study.set_user_attr("final_run", {"trials": n_trials, "run": final.run_id})
    return final
