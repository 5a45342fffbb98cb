"""What a study leaves on disk, and the links of runs to their study.

`runs/<study>/` holds trials.csv (after every worker's share), and once the study is
complete best.yaml (the best trial's config, ready to train), the optimisation history
and parameter importances as PNG, and study.json. The final run is the best config
trained as a normal run and tested once: the only time the test split is looked at.
With `tune.final: train+val` it trains on train and val together, for the epochs and with
the threshold the best trial chose on validation (`refit_choice`). Every trial run (and
the final run) has a study.json that links it to its study.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from dltrain import runs
from dltrain.config import ExperimentConfig
from dltrain.errors import ConfigError, RunError, UsageError
from dltrain.tuning.reporting import Reporter, first_line, why
from dltrain.tuning.trial import refit, train_final, validation_operating_point

BEST_YAML = "best.yaml"
TRIALS_CSV = "trials.csv"
HISTORY_PNG = "tuning_optimisation_history.png"
IMPORTANCE_PNG = "tuning_parameter_importances.png"


def study_folder(name: str) -> Path:
    """`runs/<study>/`: the SQLite database, best.yaml, trials.csv and the plots."""
    runs.validate_run_id(name)
    return runs.runs_root() / name


def write_trials_csv(path: Path, trials) -> None:
    """One row per trial (all workers'): state, value, spread over folds, values, runs."""
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
                first_line(why(t)),
            ]
        )
    runs.atomic_write_text(path, buf.getvalue())


def write_best_yaml(path: Path, config: ExperimentConfig, trial, study: str, metric) -> None:
    """The best trial's config, with absolute data paths, so that it trains from anywhere."""
    import yaml

    from dltrain.data.tabular import config_file, resolve_data_path

    data = config.model_dump(mode="json")
    for key in ("path", "labels"):
        if data["data"].get(key):
            where = config_file(config.where(f"data.{key}"))
            data["data"][key] = str(resolve_data_path(data["data"][key], where).resolve())
    head = (
        f"# The best config of study {study!r}: trial {trial.number}, "
        f"{metric} = {trial.value:.6g} on validation.\n"
        f"# Train and test it with: dltrain train {path}\n"
    )
    runs.atomic_write_text(path, head + yaml.safe_dump(data, sort_keys=False))


def write_plots(study, folder: Path, reporter: Reporter) -> list[Path]:
    """Optimisation history and parameter importances (PNG) in the study folder."""
    import optuna

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
                reporter.plot_failed(study.study_name, filename, str(exc))
                continue
            runs.atomic_write_bytes(folder / filename, _png(ax.figure))
            made.append(folder / filename)
    return made


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure.set_size_inches(7, 4.5)
    figure.tight_layout()
    FigureCanvasAgg(figure)
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=100)
    plt.close(figure)
    return buf.getvalue()


def claim_final(folder: Path, study, n_trials: int) -> bool:
    """Only one worker retrains the best of these `n_trials` trials: per runs folder (an
    atomic mkdir), and per study as far as it can see (the study's `final_run`)."""
    if (study.user_attrs.get("final_run") or {}).get("trials") == n_trials:
        return False
    try:
        (folder / f"final-{n_trials}.claim").mkdir()
    except FileExistsError:
        return False
    return True


def final_run(
    config: ExperimentConfig, study: str, best, plots: list[Path], argv: list[str], chosen=None
):
    """The best config as a normal run: train, validate, then the one look at test; with
    `chosen` (`refit_choice`), trained on train+val as it says, then the one look at test."""
    from dltrain.evaluation.plots import make_plots
    from dltrain.evaluation.report import write_report

    result = train_final(config, [*argv, "# final run of study", study], chosen)
    link = {"study": study, "role": "final", "best_trial": best.number, "value": best.value}
    if chosen is not None:
        link["trained_on"] = ["train", "val"]
    runs.write_json(result.run_dir / "study.json", link)
    extra = []
    for path in plots:
        target = result.run_dir / "plots" / path.name
        shutil.copyfile(path, target)
        extra.append(target)
    if extra:
        write_report(result.run_dir, make_plots(result.run_dir) + extra)
    return result


def refit_choice(config: ExperimentConfig, study: str, best):
    """How the final run on train+val trains (`tune.final: train+val`), from the best trial:
    its best validation epoch (with k-fold, the median over its folds, rounded half up) and,
    for a binary task, the threshold its kept model(s) choose on validation by
    `evaluate.threshold` (with k-fold, on the folds' validation scores pooled).

    Returns:
        (the settings that make the best config the final run's, dotted key → (value,
        where it comes from), for `space.trial_config`; its `Refit`).

    Raises:
        ConfigError: the trial did not record its best epochs (a study of an older dltrain).
    """
    from dltrain.data.cache import preprocess

    epochs = best.user_attrs.get("best_epochs")
    run_ids = best.user_attrs.get("runs", [])
    if not epochs or len(epochs) != len(run_ids):
        raise ConfigError(
            f"trial {best.number} of study {study!r} did not record its best epochs (an older "
            "dltrain ran it), so there is no epoch count to retrain on train+val with; set "
            "tune.final: train, or start a new study with --study NEW_NAME",
            where=config.where("tune.final"),
        )
    folds = config.tune.cv.folds if config.tune.cv else None
    data = [preprocess(config, (i, folds) if folds else None) for i in range(folds or 1)]
    run_dirs = [runs.runs_root() / runs.validate_run_id(r) for r in run_ids]
    point = validation_operating_point(config, list(zip(run_dirs, data, strict=True)))
    n = int(math.floor(float(np.median(epochs)) + 0.5))
    how = (
        f"the median of its {len(epochs)} folds' best validation epochs "
        f"({', '.join(map(str, epochs))})"
        if folds
        else "its best validation epoch"
    )
    threshold = None if point is None else min(max(point["value"], 1e-6), 1 - 1e-6)
    chosen = refit(
        epochs=n,
        chosen_by=f"trial {best.number} of study {study!r}",
        epochs_from=how,
        threshold=threshold,
        operating_point=point,
    )
    origin = f"tune.final: train+val ({chosen.summary()})"
    settings = {"train.epochs": (n, origin), "train.early_stopping": (None, origin)}
    if threshold is not None:
        settings["evaluate.threshold"] = ({"rule": "fixed", "value": threshold}, origin)
    return settings, chosen


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


def study_runs(study: str) -> list[dict[str, Any]]:
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
