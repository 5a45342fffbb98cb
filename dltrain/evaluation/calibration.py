"""Recalibration (`evaluate.recalibrate`): temperature or Platt scaling, fitted on validation.

After training, the kept model's validation probabilities are recalibrated by a one- or
two-parameter map fitted on the validation split only; the map is applied to validation
and test before the decision threshold is chosen (so the threshold is a threshold on the
recalibrated probability), stored in the run as calibration.json (checksummed in the run
manifest), and applied by `dltrain evaluate` and `dltrain predict`; `dltrain export` copies
it beside the model as a second sidecar (the map is two numbers; folding it into the
exported network would need a custom layer in every runtime).

- temperature (binary, multiclass; Guo et al., ICML 2017): p' = softmax(log p / T), for a
  binary model σ(logit(p) / T). One parameter, T > 0, chosen by the validation
  log-likelihood (bounded to [0.05, 20]); it never changes which class is most probable,
  so the ranking (ROC-AUC) is unchanged.
- platt (binary; Platt 1999): p' = σ(a·logit(p) + b), a logistic regression of the outcome
  on the model's logit, fitted with Platt's smoothed targets (N₊ + 1)/(N₊ + 2) and
  1/(N₋ + 2), so it stays finite when validation is perfectly separated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dltrain import records, runs
from dltrain.errors import ConfigError, RunError
from dltrain.evaluation.metrics.calibration import logistic_fit, logit

FILE = "calibration.json"
T_BOUNDS = (0.05, 20.0)
APPLIES = {"temperature": ("binary", "multiclass"), "platt": ("binary",)}


def check(config, task: str) -> None:
    """Refuses a recalibration that does not apply to the task (before any run exists)."""
    method = config.evaluate.recalibrate
    if method == "none" or task in APPLIES[method]:
        return
    tasks_named = " and ".join(APPLIES[method])
    hint = "; use temperature" if task == "multiclass" else ""
    raise ConfigError(
        f"evaluate.recalibrate {method!r} applies to {tasks_named} tasks, not to a {task} task"
        f"{hint}, or leave it at none. Received: evaluate.recalibrate={method}",
        where=config.where("evaluate.recalibrate"),
    )


def fit(method: str, task: str, y: np.ndarray, scores: np.ndarray) -> dict | None:
    """The recalibration map fitted on validation truth `y` and probabilities `scores`.

    Returns:
        {"method", "fitted_on": "val", "n", and its parameters}, or None for "none".
    """
    if method == "none":
        return None
    out = {"method": method, "fitted_on": "val", "n": int(len(y))}
    if method == "temperature":
        out["temperature"] = _temperature(task, y, scores)
        return out
    positives = float(np.sum(y == 1))
    negatives = float(len(y) - positives)
    target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    intercept, slope = logistic_fit(target, logit(scores), np.ones(len(y)))
    out.update(slope=float(slope), intercept=float(intercept))
    return out


def _temperature(task: str, y: np.ndarray, scores: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    def loss(log_t: float) -> float:
        p = apply({"method": "temperature", "temperature": float(np.exp(log_t))}, scores)
        if task == "binary":
            p = np.stack([1 - p, p], axis=1)
        picked = np.clip(p[np.arange(len(y)), np.asarray(y, dtype="int64")], 1e-12, 1.0)
        return float(-np.mean(np.log(picked)))

    bounds = tuple(np.log(T_BOUNDS))
    found = minimize_scalar(loss, bounds=bounds, method="bounded", options={"xatol": 1e-8})
    return float(np.exp(found.x))


def apply(params: dict | None, scores: np.ndarray) -> np.ndarray:
    """`scores` (P(positive), or class probabilities) after the recalibration `params`."""
    if not params:
        return scores
    scores = np.asarray(scores, dtype="float64")
    if params["method"] == "platt":
        return _sigmoid(params["slope"] * logit(scores) + params["intercept"])
    t = float(params["temperature"])
    if scores.ndim == 1:
        return _sigmoid(logit(scores) / t)
    z = np.log(np.clip(scores, 1e-12, 1.0)) / t
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def save(run_dir: Path, params: dict | None) -> None:
    """Writes calibration.json and records its checksum; without a map, removes a stale one."""
    path = Path(run_dir) / FILE
    if params is None:
        path.unlink(missing_ok=True)
        return
    runs.write_json(path, params)
    records.record(run_dir, FILE)


def load(run_dir: Path) -> dict | None:
    """The run's recalibration map (checked against the run manifest), or None."""
    path = Path(run_dir) / FILE
    if not path.exists():
        return None
    fix = "delete it and train the run again, or restore it from a backup"
    records.verify(run_dir, FILE, fix=fix)
    params = runs.read_json(path)
    wanted = {"platt": ("slope", "intercept"), "temperature": ("temperature",)}
    keys = wanted.get(params.get("method") if isinstance(params, dict) else None)
    if keys is None or not all(isinstance(params.get(k), int | float) for k in keys):
        raise RunError(f"{path} is not a dltrain recalibration map; {fix}")
    return params


def describe(params: dict | None) -> str | None:
    """The map in words (export README, report), or None without one."""
    if not params:
        return None
    if params["method"] == "platt":
        return (
            f"Platt scaling: P' = 1 / (1 + exp(-({params['slope']:.6g} * logit(P) + "
            f"{params['intercept']:.6g}))), fitted on the validation split"
        )
    return (
        f"temperature scaling: P' = softmax(log(P) / {params['temperature']:.6g}) (binary: "
        "sigmoid(logit(P) / T)), fitted on the validation split"
    )
