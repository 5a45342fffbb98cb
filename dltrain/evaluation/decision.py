"""Does the model beat a baseline? Decided by a paired bootstrap, not by point estimates.

Both are scored on the same samples; each bootstrap resample draws the samples (whole
groups, e.g. patients, when the data has a group column) once and scores both on it, so
the noise they share cancels in the difference. The rule, for the headline metric:

- **better**: the percentile interval of (model − baseline) lies entirely on the better
  side of 0 (above it, or below it for a metric where lower is better);
- **worse**: it lies entirely on the other side;
- **no detectable difference**: it contains 0 (a tie such as 1.000 vs 1.000 is this,
  never a loss);
- **undefined**: the metric is undefined on the split or on every resample.

"Beats the baselines" means better than every baseline (`verdict`). `dltrain compare`
uses the same paired resamples (`paired_differences`) for two runs.
"""

from __future__ import annotations

import warnings

import numpy as np

from dltrain.config.evaluate import LOWER_IS_BETTER
from dltrain.evaluation import metrics as M

BETTER = "better"
TIE = "no detectable difference"
WORSE = "worse"
UNDEFINED = "undefined"


def paired_differences(task, names, y, a, b, n_classes, n_boot, seed, groups=None) -> dict:
    """Each metric's resampled differences B − A: both scored on the same resamples.

    Args:
        task: the task name.
        names: the metrics.
        y: the truth of the shared samples.
        a, b: (scores, threshold) of each side; the threshold is that side's own frozen one.
        n_classes: classes of the task.
        n_boot: resamples.
        seed: the seed of the first chunk of resamples (as `metrics.score`).
        groups: the group of each sample, to resample whole groups. Defaults to None.

    Returns:
        name → the differences of every resample (NaN where a side is undefined).
    """
    draws: dict[str, list[np.ndarray]] = {name: [] for name in names}
    rankings_a: dict = {}
    rankings_b: dict = {}
    for start in range(0, n_boot, M.BOOT_CHUNK):
        weights = M.bootstrap_weights(
            len(y), min(M.BOOT_CHUNK, n_boot - start), seed + start, groups
        )
        on_a = M.weighted_metrics(task, y, a[0], weights, names, n_classes, a[1], rankings_a)
        on_b = M.weighted_metrics(task, y, b[0], weights, names, n_classes, b[1], rankings_b)
        for name in names:
            draws[name].append(on_b[name] - on_a[name])
    return {name: np.concatenate(d) for name, d in draws.items()}


def interval(d: np.ndarray, confidence: float) -> tuple[float | None, float | None, int]:
    """(low, high, resamples) of the percentile interval of the defined differences."""
    d = d[~np.isnan(d)]
    if not len(d):
        return None, None, 0
    alpha = (1 - confidence) / 2
    low, high = np.quantile(d, [alpha, 1 - alpha])
    return float(low), float(high), int(len(d))


def decide(
    task: str,
    metric: str,
    y: np.ndarray,
    model: tuple[np.ndarray, float],
    baseline: tuple[np.ndarray, float],
    *,
    n_classes: int,
    n_boot: int,
    confidence: float,
    seed: int,
    groups: np.ndarray | None = None,
) -> dict:
    """The model against one baseline on `metric`, by a paired bootstrap of the difference.

    Args:
        task: the task name.
        metric: the metric (the task's headline).
        y: the truth of the samples both were scored on.
        model, baseline: (scores, frozen threshold) of each.
        n_classes: classes of the task (2 for binary).
        n_boot: bootstrap resamples.
        confidence: coverage of the interval of the difference.
        seed: the seed of the resamples.
        groups: the group of each sample (resampled whole). Defaults to None (rows).

    Returns:
        {"metric", "model", "baseline", "difference" (model − baseline), "low", "high",
        "resamples", "decision"}: `BETTER`, `TIE`, `WORSE` or `UNDEFINED`.

    Example:
        >>> decide("binary", "roc_auc", y, (p_model, 0.5), (p_logistic, 0.5),
        ...        n_classes=2, n_boot=1000, confidence=0.95, seed=42)["decision"]
        'no detectable difference'
    """
    d = paired_differences(task, [metric], y, baseline, model, n_classes, n_boot, seed, groups)
    low, high, resamples = interval(d[metric], confidence)
    points = [_point(task, metric, y, s, t, n_classes) for s, t in (model, baseline)]
    difference = None if None in points else points[0] - points[1]
    return {
        "metric": metric,
        "model": _num(points[0]),
        "baseline": _num(points[1]),
        "difference": _num(difference),
        "low": _num(low),
        "high": _num(high),
        "resamples": resamples,
        "decision": rule(metric, difference, low, high),
    }


def rule(metric: str, difference, low, high) -> str:
    """The decision from the interval of (model − baseline) (see the module's docstring)."""
    if difference is None or low is None:
        return UNDEFINED
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    gain_low, gain_high = sorted((sign * low, sign * high))
    if gain_low > 0:
        return BETTER
    if gain_high < 0:
        return WORSE
    return TIE


def verdict(decisions: dict[str, dict]) -> tuple[bool, dict[str, list[str]]]:
    """(better than every baseline, baseline names by decision) of a run's decisions."""
    named: dict[str, list[str]] = {BETTER: [], TIE: [], WORSE: [], UNDEFINED: []}
    for name, d in decisions.items():
        named.setdefault(d.get("decision", UNDEFINED), []).append(name)
    beats = bool(decisions) and len(named[BETTER]) == len(decisions)
    return beats, named


def describe(name: str, d: dict, pct: int = 95) -> str:
    """One decision in words: "no detectable difference from logistic (roc_auc 0.912 vs
    0.905, difference +0.007, 95% CI −0.010 to +0.024)"."""
    head = {BETTER: "better than", WORSE: "worse than", TIE: "not detectably different from"}
    text = f"{head.get(d.get('decision'), 'undecided against')} {name}"
    if d.get("model") is None or d.get("baseline") is None:
        return text + f" ({d.get('metric')} undefined)"
    text += f" ({d['metric']} {d['model']:.3f} vs {d['baseline']:.3f}"
    if d.get("low") is None:
        return text + ")"
    return text + (
        f", difference {d['difference']:+.3f}, {pct}% CI {d['low']:+.3f} to {d['high']:+.3f})"
    )


def _point(task, metric, y, scores, threshold, n_classes) -> float | None:
    fn = M.metric_functions(task, n_classes, threshold)[metric]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = float(fn(y, scores))
        except ValueError:
            return None
    return None if np.isnan(value) else value


def _num(value) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 6)
