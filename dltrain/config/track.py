"""The `track:` section: the records of a run that other tools read."""

from __future__ import annotations

from pydantic import Field

from dltrain.config.base import Section


class MLflowConfig(Section):
    """Log each run to MLflow (needs the `[mlflow]` extra: pip install "dltrain[mlflow]")."""

    uri: str = Field(min_length=1)
    """The tracking store, e.g. "sqlite:///mlflow.db" or "http://mlflow.example.org:5000"."""
    experiment: str | None = None
    """The MLflow experiment (created when missing). Defaults to the config's `name`."""
    artifacts: str | None = None
    """Where a newly created experiment keeps its artifacts (report, plots, model), e.g.
    "file:///data/mlflow-artifacts". Defaults to the store's default location."""


class TrackConfig(Section):
    """Where a run is recorded besides its folder."""

    tensorboard: bool = True
    """Write TensorBoard event files into runs/<id>/logs/ (`tensorboard --logdir runs`).
    Defaults to True."""
    mlflow: MLflowConfig | None = None
    """Log params, per-epoch metrics, test metrics with CIs, the report and the model to
    MLflow. Defaults to None (no MLflow)."""
