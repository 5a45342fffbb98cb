"""The binary operating point: chosen on validation by a rule, frozen, applied to test."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from dltrain.errors import DataError


def choose_threshold(rule, y_val: np.ndarray, s_val: np.ndarray) -> dict:
    """Picks the decision threshold on the validation split.

    Args:
        rule: an `evaluate.threshold` config (fixed, youden, max_f1, sensitivity,
            specificity).
        y_val: validation labels (0/1).
        s_val: validation positive-class probabilities.

    Returns:
        {"rule", "value", "chosen_on", and the validation sensitivity/specificity there}.
    """
    info = {"rule": rule.rule, "chosen_on": "val" if rule.rule != "fixed" else "config"}
    if rule.rule == "fixed":
        value = rule.value
    else:
        if len(np.unique(y_val)) < 2:
            raise DataError(
                f"threshold rule {rule.rule!r} needs both classes in the validation split; "
                "use a larger validation split or evaluate.threshold: {rule: fixed}"
            )
        fpr, tpr, thresholds = skm.roc_curve(y_val, s_val)
        thresholds = np.minimum(thresholds, 1.0)  # the first is +inf: "predict nothing"
        if rule.rule == "youden":
            value = thresholds[int(np.argmax(tpr - fpr))]
        elif rule.rule == "sensitivity":
            info["target"] = rule.target
            value = thresholds[int(np.flatnonzero(tpr >= rule.target)[0])]
        elif rule.rule == "specificity":
            info["target"] = rule.target
            value = thresholds[int(np.flatnonzero(1 - fpr >= rule.target)[-1])]
        else:  # max_f1
            precision, recall, pr_thresholds = skm.precision_recall_curve(y_val, s_val)
            with np.errstate(invalid="ignore", divide="ignore"):
                f1 = np.nan_to_num(2 * precision * recall / (precision + recall))[:-1]
            value = pr_thresholds[int(np.argmax(f1))]
    value = float(value)
    pred = (s_val >= value).astype(int)
    positives, negatives = (y_val == 1).sum(), (y_val == 0).sum()
    info.update(
        value=value,  # full precision: the boundary sample must fall on the same side
        val_sensitivity=round(float((pred[y_val == 1] == 1).sum() / positives), 6)
        if positives
        else None,
        val_specificity=round(float((pred[y_val == 0] == 0).sum() / negatives), 6)
        if negatives
        else None,
    )
    return info
