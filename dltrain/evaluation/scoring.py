"""The metrics block of a run: every split scored the same way, with CIs."""

from __future__ import annotations

import numpy as np

from dltrain import tasks
from dltrain.config import ExperimentConfig
from dltrain.errors import ConfigError
from dltrain.evaluation import metrics as M

MIN_GROUPS = 10


def metric_names(config: ExperimentConfig, task: str) -> list[str]:
    """The metrics to report; a listed metric that does not apply to the task is an error."""
    allowed = M.default_metrics(task)
    chosen = config.evaluate.metrics or allowed
    wrong = [m for m in chosen if m not in allowed]
    if wrong:
        per_class = tasks.get(task).exclusive and not tasks.get(task).thresholded
        hint = f" (for {task} tasks they are reported per class)" if per_class else ""
        raise ConfigError(
            f"evaluate.metrics {', '.join(map(repr, wrong))} do not apply to a {task} task"
            f"{hint}; choose from {', '.join(allowed)}",
            where=config.where("evaluate.metrics"),
        )
    return list(chosen)


def score_split(
    config: ExperimentConfig,
    task: str,
    classes: list[str],
    threshold: float,
    y: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray | None,
    seed_offset: int,
) -> dict:
    """{"metrics": name → {value, low, high}} plus per-class metrics and a confusion matrix."""
    ev = config.evaluate
    out = {
        "metrics": M.score(
            task,
            y,
            scores,
            names=[
                n
                for n in metric_names(config, task)
                if n != "anomaly_roc_auc" or len(np.unique(y)) == 2
            ],
            n_classes=len(classes),
            threshold=threshold,
            n_boot=ev.bootstrap,
            confidence=ev.confidence,
            seed=config.seed + seed_offset,
            groups=groups,
        )
    }
    if groups is not None and len(np.unique(groups)) < MIN_GROUPS:
        out["warnings"] = [
            f"the split has only {len(np.unique(groups))} group(s) ({config.data.group}); "
            "its confidence intervals resample whole groups and are unreliable with fewer than "
            f"{MIN_GROUPS}: collect more patients or report the intervals as indicative only"
        ]
    if tasks.get(task).exclusive:
        out["per_class"] = M.per_class(y, scores, task, threshold, classes)
        out["confusion"] = M.confusion(y, scores, task, threshold, len(classes))
    return out
