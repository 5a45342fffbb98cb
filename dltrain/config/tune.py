"""The `tune:` section: the search space and objective of `dltrain tune` (Optuna).

Only `dltrain tune` reads it; `train` ignores it. Each key of `space` is a dotted
config path (`train.optimizer.learning_rate`) and its value one distribution:

    tune:
      trials: 30
      space:
        train.optimizer.learning_rate: {log_uniform: [1.0e-4, 1.0e-2]}
        model.dropout: {uniform: [0.0, 0.5]}
        model.hidden_units: {categorical: [[32], [64, 32]]}
        train.batch_size: {int: [16, 64]}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, model_validator

from dltrain.config.base import Section, keyed_union, tagged_union

Int = int  # the field `int` below would shadow the built-in in its class
Scalar = bool | int | float | str | None
Choice = Scalar | list[Scalar]


class Uniform(Section):
    uniform: tuple[float, float]
    """[low, high]: a float drawn uniformly between them."""

    @model_validator(mode="after")
    def _ordered(self):
        if not self.uniform[0] < self.uniform[1]:
            raise ValueError(f"uniform needs low < high. Received: {list(self.uniform)}")
        return self


class LogUniform(Section):
    log_uniform: tuple[float, float]
    """[low, high], both > 0: a float drawn uniformly on a log scale (learning rates)."""

    @model_validator(mode="after")
    def _ordered(self):
        low, high = self.log_uniform
        if not 0 < low < high:
            raise ValueError(f"log_uniform needs 0 < low < high. Received: {[low, high]}")
        return self


class IntRange(Section):
    int: tuple[Int, Int]
    """[low, high]: an integer between them, both included."""

    @model_validator(mode="after")
    def _ordered(self):
        if not self.int[0] < self.int[1]:
            raise ValueError(f"int needs low < high. Received: {list(self.int)}")
        return self


class Categorical(Section):
    categorical: Annotated[list[Choice], Field(min_length=2)]
    """The choices, e.g. [relu, gelu] or [[32], [64, 32]] (lists are allowed)."""


Distribution = keyed_union("distribution", Uniform, LogUniform, IntRange, Categorical)

Metric = Literal["val_loss", "val_auc", "val_accuracy", "val_mae", "val_rmse"]


class Objective(Section):
    """What a trial is judged by: a validation metric, never a test metric."""

    metric: Metric | None = None
    """Per-epoch validation metric to optimise, taken at the epoch the run keeps. Defaults
    to the early-stopping monitor (val_loss when early stopping is off)."""
    direction: Literal["auto", "minimize", "maximize"] = "auto"
    """Whether lower or higher is better; "auto" knows it from the metric (loss, mae, rmse:
    lower; auc, accuracy: higher). Defaults to "auto"."""


class CrossValidation(Section):
    """k-fold cross-validation per trial, built on train+val only (test is never touched)."""

    folds: Annotated[int, Field(ge=2, le=20)] = 5
    """Number of folds; each fold is validation once. Folds are stratified and/or grouped
    like `data.split` (patients never straddle folds). Defaults to 5."""


class MedianPruner(Section):
    """Stop a trial whose validation metric is worse than the median of earlier trials at
    the same epoch."""

    name: Literal["median"] = "median"
    startup_trials: Annotated[int, Field(ge=0)] = 5
    """Trials that always run to the end before pruning starts. Defaults to 5."""
    warmup_epochs: Annotated[int, Field(ge=0)] = 1
    """Epochs of each trial that are never pruned. Defaults to 1."""


class HyperbandPruner(Section):
    """Hyperband (successive halving over brackets) on per-epoch validation metrics."""

    name: Literal["hyperband"] = "hyperband"
    min_epochs: PositiveInt = 1
    """Fewest epochs a trial gets before it can be stopped. Defaults to 1."""
    reduction_factor: Annotated[int, Field(ge=2)] = 3
    """How aggressively brackets are cut. Defaults to 3."""


class NoPruner(Section):
    """Every trial runs to the end (or to early stopping)."""

    name: Literal["none"] = "none"


PrunerConfig = tagged_union("name", MedianPruner, HyperbandPruner, NoPruner, default="median")


class TuneConfig(Section):
    """A hyperparameter search: read only by `dltrain tune`."""

    trials: PositiveInt = 20
    """Trials in the study (all workers together); `--trials` overrides it. Defaults to 20."""
    space: dict[str, Distribution] = {}
    """Dotted config path → distribution ({uniform: [a, b]}, {log_uniform: [a, b]},
    {int: [a, b]}, {categorical: [...]})."""
    objective: Objective = Objective()
    """The validation metric and its direction."""
    cv: CrossValidation | None = None
    """k-fold cross-validation per trial (mean and spread recorded), or null for the
    configured train/val split. Defaults to None."""
    pruner: PrunerConfig = MedianPruner()
    """How bad trials are stopped early. Defaults to the median pruner."""
    sampler: Literal["tpe", "random"] = "tpe"
    """How the next trial's values are chosen. Defaults to "tpe"."""
    final: Literal["train", "train+val", "none"] = "train"
    """After the study: "train" retrains the best config as a normal run (same split) and
    tests it once; "train+val" trains it on train and val together for the epochs the best
    trial chose on validation (the median over folds with `cv`), no early stopping, the
    threshold frozen at the trial's, then tests it once; "none" only writes best.yaml.
    Defaults to "train"."""
