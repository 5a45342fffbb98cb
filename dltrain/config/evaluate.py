"""The `evaluate:` section: which metrics, the decision threshold, confidence intervals."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from dltrain.config.base import Section, tagged_union

BINARY_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "roc_auc",
    "pr_auc",
    "f1",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "brier",
    "calibration_intercept",
    "calibration_slope",
    "ece",
)
MULTICLASS_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "f1", "brier", "ece")
REGRESSION_METRICS = ("mae", "rmse", "r2", "bias", "loa_low", "loa_high")
MULTILABEL_METRICS = ("accuracy", "roc_auc", "pr_auc", "f1", "brier")
RECONSTRUCTION_METRICS = ("mse", "anomaly_roc_auc")
TASK_METRICS = {
    "binary": BINARY_METRICS,
    "multiclass": MULTICLASS_METRICS,
    "multilabel": MULTILABEL_METRICS,
    "regression": REGRESSION_METRICS,
    "reconstruction": RECONSTRUCTION_METRICS,
}
ALL_METRICS = tuple(dict.fromkeys(m for names in TASK_METRICS.values() for m in names))
Metric = Literal[ALL_METRICS]  # every metric name, in one place: the tuples above


HEADLINE = {
    "binary": "roc_auc",
    "multiclass": "balanced_accuracy",
    "multilabel": "roc_auc",
    "regression": "r2",
    "reconstruction": "mse",
}
"""The metric that sums a task up: runs are listed, and models held against baselines, by it."""
LOWER_IS_BETTER = {"brier", "mae", "rmse", "mse", "ece"}


def better(metric: str, a: float, b: float) -> bool:
    """Whether value `a` of `metric` is strictly better than `b`."""
    return a < b if metric in LOWER_IS_BETTER else a > b


Target = Annotated[float, Field(gt=0.0, lt=1.0)]


class FixedThreshold(Section):
    """A threshold given by you, e.g. from a clinical guideline."""

    rule: Literal["fixed"] = "fixed"
    value: Target = 0.5
    """Decision threshold on the positive-class probability. Defaults to 0.5."""


class YoudenThreshold(Section):
    """The threshold maximising sensitivity + specificity - 1 on validation."""

    rule: Literal["youden"] = "youden"


class MaxF1Threshold(Section):
    """The threshold maximising F1 on validation."""

    rule: Literal["max_f1"] = "max_f1"


class SensitivityThreshold(Section):
    """The most specific threshold whose validation sensitivity reaches `target` (screening)."""

    rule: Literal["sensitivity"] = "sensitivity"
    target: Target = 0.9
    """Sensitivity to reach on validation. Defaults to 0.9."""


class SpecificityThreshold(Section):
    """The most sensitive threshold whose validation specificity reaches `target`."""

    rule: Literal["specificity"] = "specificity"
    target: Target = 0.9
    """Specificity to reach on validation. Defaults to 0.9."""


def _number_is_fixed(value):
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"rule": "fixed", "value": value}
    return value


ThresholdConfig = Annotated[
    tagged_union(
        "rule",
        FixedThreshold,
        YoudenThreshold,
        MaxF1Threshold,
        SensitivityThreshold,
        SpecificityThreshold,
        default="fixed",
    ),
    BeforeValidator(_number_is_fixed),
]


class EvaluateConfig(Section):
    """How the model is judged on validation and, once, on test."""

    metrics: list[Metric] | None = None
    """Metrics to report. Defaults to all metrics that apply to the task (binary:
    accuracy, balanced_accuracy, roc_auc, pr_auc, f1, sensitivity, specificity, ppv, npv,
    brier; multiclass: the same without the four one-class rates, which are reported per
    class; regression: mae, rmse, r2 and the Bland-Altman bias and limits of agreement)."""
    threshold: ThresholdConfig = FixedThreshold()
    """How the binary decision threshold is chosen: on the validation split, then frozen
    and applied unchanged to test. A number means a fixed threshold. Defaults to 0.5."""
    bootstrap: Annotated[int, Field(ge=10, le=100_000)] = 1000
    """Bootstrap resamples behind every 95% confidence interval. Defaults to 1000."""
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    """Coverage of the confidence intervals. Defaults to 0.95."""
    recalibrate: Literal["none", "temperature", "platt"] = "none"
    """Recalibrate the model's probabilities on the validation split before the threshold is
    chosen: `temperature` (binary, multiclass: one parameter, the ranking unchanged) or
    `platt` (binary: a logistic regression on the model's logit). Stored with the run
    (calibration.json) and applied by evaluate, predict and export. Defaults to none."""
