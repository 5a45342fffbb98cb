"""The `evaluate:` section: which metrics, the decision threshold, confidence intervals."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from dltrain.config.base import Section

ClassificationMetric = Literal["accuracy", "balanced_accuracy", "roc_auc", "f1"]
RegressionMetric = Literal["mae", "rmse", "r2"]
CLASSIFICATION_METRICS: tuple[str, ...] = ClassificationMetric.__args__
REGRESSION_METRICS: tuple[str, ...] = RegressionMetric.__args__


class EvaluateConfig(Section):
    """How the model is judged on validation and, once, on test."""

    metrics: list[ClassificationMetric | RegressionMetric] | None = None
    """Metrics to report. Defaults to all metrics that apply to the task."""
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    """Decision threshold on the positive-class probability (binary tasks). Defaults to 0.5."""
    bootstrap: Annotated[int, Field(ge=10, le=100_000)] = 1000
    """Bootstrap resamples behind every 95% confidence interval. Defaults to 1000."""
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    """Coverage of the confidence intervals. Defaults to 0.95."""
