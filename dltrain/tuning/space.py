"""The search space: which config paths a study may tune, a trial's values, its config.

A path of `tune.space` is a dotted config path (`train.optimizer.learning_rate`); a
trial's config is the experiment file with the `--set` overrides and then the trial's
values, validated by the same schema as `dltrain train` (`load_config`).
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from dltrain.config import ExperimentConfig
from dltrain.config.load import allowed_keys, load_config, shown
from dltrain.config.tune import Categorical, IntRange, LogUniform, Uniform
from dltrain.errors import ConfigError

# Settings a trial may not change: they decide which rows are test, or are not the model's.
FIXED = ("name", "seed", "tune", "evaluate", "data.path", "data.labels", "data.target",
         "data.split", "data.group", "data.id", "data.kind")  # fmt: skip


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
        fixed = next((f for f in FIXED if key == f or key.startswith(f + ".")), None)
        if fixed is not None:
            raise ConfigError(
                f"tune.space: {key!r} cannot be tuned: {fixed} is fixed for a study (it decides "
                "the data, its split or the test, or is not a model setting); remove it",
                where=where,
            )
        if not _exists(key.split("."), raw):
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
    node: Any = raw
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    if isinstance(node, dict) and path[-1] in node:
        return True
    return path[-1] in allowed_keys(tuple(path[:-1]), raw)


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
            if not _has_lists(dist):
                params[key] = trial.suggest_categorical(key, choices)
            else:  # Optuna stores scalars only: lists are chosen as their JSON text
                params[key] = json.loads(
                    trial.suggest_categorical(key, [json.dumps(c) for c in choices])
                )
    return params


def trial_params(trial, config: ExperimentConfig) -> dict[str, Any]:
    """A finished trial's values as `suggest` returned them (JSON choices back to lists)."""
    out = {}
    for key, value in trial.params.items():
        dist = config.tune.space.get(key)
        out[key] = json.loads(value) if _has_lists(dist) else value
    return out


def _has_lists(dist: Any) -> bool:
    return isinstance(dist, Categorical) and any(isinstance(c, list) for c in dist.categorical)


def trial_config(
    path: Path,
    overrides: list[str],
    params: dict[str, Any],
    number: int,
    settings: dict[str, tuple[Any, str]] | None = None,
) -> ExperimentConfig:
    """The experiment file + `--set` overrides + the trial's values, validated by the schema.

    Args:
        path: the experiment file.
        overrides: the `--set` overrides of the study, applied first.
        params: the trial's value for each dotted path of `tune.space`.
        number: the trial's number, named in messages.
        settings: more values dltrain sets last, dotted key → (value, where it comes from),
            e.g. the epochs of a final run on train+val. Defaults to None.

    Returns:
        The frozen config of the trial.

    Raises:
        ConfigError: the combination is invalid; it names the trial's values.
    """
    recorded = {
        key: (value, f"--set {shown(f'{key}={value!r} (tune trial {number})')}")
        for key, value in params.items()
    }
    return load_config(path, overrides, recorded={**recorded, **(settings or {})})
