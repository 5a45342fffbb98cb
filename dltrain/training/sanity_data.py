"""The sanity suite's check on a table's columns: one column alone that predicts the target
almost perfectly is usually the target in disguise (a leak), not a discovery.

A depth-limited decision tree on each column alone (classification) or each column's rank
correlation with the target (regression), on the training and validation samples. A
copied, rescaled or lightly perturbed target scores ≈ 1; on the calibration benchmark's
healthy tables the best single column scored at most 0.97 (docs/decisions.md).
"""

from __future__ import annotations

import math

import numpy as np

from dltrain import tasks
from dltrain.training.verdict import Check, rounded

LEAK = 0.99
MAX_COLUMNS = 2000


def applies(config, task: str) -> bool:
    the_task = tasks.get(task)
    return config.data.kind == "tabular" and (the_task.exclusive or the_task.standardised)


def leaking_feature(task: str, train, val, transform) -> Check:
    """The best single column's score: balanced accuracy of a small tree on it (classes),
    or |Spearman ρ| with the target (regression); WARN from `LEAK` on."""
    x = np.concatenate([train.stored.x, val.stored.x]).astype("float64")
    y = np.concatenate([train.stored.y, val.stored.y])
    names = list(getattr(transform, "feature_names", [])) or [str(i) for i in range(x.shape[1])]
    score = _tree_score if tasks.get(task).exclusive else _rank_score
    scores = [score(x[:, j], y, len(train.stored.y)) for j in range(min(x.shape[1], MAX_COLUMNS))]
    best = int(np.nanargmax(scores)) if scores and not np.all(np.isnan(scores)) else None
    what = "balanced accuracy" if tasks.get(task).exclusive else "|rank correlation|"
    if best is None:
        return Check("leaking_feature", "INFO", None, f"< {LEAK}", "no column to score.")
    value, name = scores[best], names[best]
    said = f"the best single column, {name!r}, alone reaches {what} {value:.3f} on train + val"
    if value >= LEAK:
        return Check(
            "leaking_feature",
            "WARN",
            rounded(value),
            f"< {LEAK}",
            f"{said}: a column this "
            "close to the target is usually derived from it (recorded after the outcome, a "
            "code of the diagnosis). Check it, and drop it (data.columns) if it leaks.",
        )
    return Check("leaking_feature", "PASS", rounded(value), f"< {LEAK}", f"{said}.")


def _tree_score(column, y, n_train: int) -> float:
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.tree import DecisionTreeClassifier

    if not np.isfinite(column).all() or np.ptp(column) == 0:
        return math.nan
    classes = len(np.unique(y))
    depth = max(2, math.ceil(math.log2(max(classes, 2))) + 1)
    tree = DecisionTreeClassifier(max_depth=depth, random_state=0)
    tree.fit(column[:n_train, None], y[:n_train])
    return float(balanced_accuracy_score(y, tree.predict(column[:, None])))


def _rank_score(column, y, n_train: int) -> float:
    from scipy.stats import spearmanr

    if not np.isfinite(column).all() or np.ptp(column) == 0:
        return math.nan
    return abs(float(spearmanr(column, np.asarray(y, dtype="float64").ravel()).statistic))
