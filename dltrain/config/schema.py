"""The experiment file: the root of the config, one field per section."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, PrivateAttr, field_validator

from dltrain.config.base import Section
from dltrain.config.data import DataConfig
from dltrain.config.evaluate import EvaluateConfig
from dltrain.config.models import MLPConfig, ModelConfig
from dltrain.config.track import TrackConfig
from dltrain.config.train import TrainConfig
from dltrain.config.tune import TuneConfig

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MAX_SEED = 2**31 - 1


class ExperimentConfig(Section):
    """One experiment: data, model, training and evaluation."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    """Experiment name; runs are called <name>-<n>. Letters, digits, '-' and '_'."""
    seed: int = 42
    """Seed of every random choice (split, initialisation, shuffling): 0 to 2147483647
    (2**31 - 1), so that every seed derived from it (seed + offset) stays within what
    NumPy, scikit-learn and TensorFlow accept. Defaults to 42."""
    data: DataConfig
    """The data and how it is split."""
    model: ModelConfig = MLPConfig()
    """The architecture and its settings. Defaults to a small MLP."""
    train: TrainConfig = TrainConfig()
    """How the model is fitted."""
    evaluate: EvaluateConfig = EvaluateConfig()
    """How the model is judged."""
    tune: TuneConfig = TuneConfig()
    """The hyperparameter search of `dltrain tune` (ignored by `train`)."""
    track: TrackConfig = TrackConfig()
    """Records other tools read: TensorBoard event files, an MLflow run."""

    _locator: object = PrivateAttr(default=None)

    @field_validator("seed")
    @classmethod
    def _seed_in_range(cls, value: int) -> int:
        if not 0 <= value <= MAX_SEED:
            raise ValueError(
                f"must be between 0 and {MAX_SEED} (2**31 - 1), e.g. 42; seeds derived from "
                f"it must stay valid for NumPy and TensorFlow. Received: {value}"
            )
        return value

    def where(self, dotted: str) -> str | None:
        """Where a setting came from: "file.yaml:LINE", "--set key=value", or None."""
        return self._locator.where(dotted) if self._locator is not None else None

    def folder(self, dotted: str) -> Path | None:
        """The folder of the config file a setting was written in: what a relative data path
        in it is relative to. None for a `--set` value, a value dltrain set, or a config
        built in code."""
        return self._locator.folder(dotted) if self._locator is not None else None
