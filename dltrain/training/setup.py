"""Building and compiling a model for an experiment: shared by training and the sanity suite."""

from __future__ import annotations

import math

import numpy as np

from dltrain.config import ExperimentConfig
from dltrain.errors import ConfigError
from dltrain.models import InputSpec, OutputSpec, build_model

COMPILED_METRICS = {
    "binary": ("auc", "accuracy"),
    "multiclass": ("accuracy",),
    "regression": ("mae", "rmse"),
}
HIGHER_IS_BETTER = {"auc", "accuracy"}


def monitor_of(config: ExperimentConfig, task: str) -> tuple[str, str]:
    """The validation quantity that picks the best epoch, and its mode (min/max)."""
    es = config.train.early_stopping
    monitor = es.monitor if es is not None else "val_loss"
    available = ["val_loss"] + [f"val_{m}" for m in COMPILED_METRICS[task]]
    if monitor not in available:
        raise ConfigError(
            f"train.early_stopping.monitor {monitor!r} is not measured for a {task} task; "
            f"use one of {', '.join(available)}",
            where=config.where("train.early_stopping.monitor"),
        )
    return monitor, "max" if monitor.removeprefix("val_") in HIGHER_IS_BETTER else "min"


def output_spec(task: str, y_train: np.ndarray, n_classes: int) -> OutputSpec:
    """Output layer for the task, its bias set to the training priors (Karpathy: init well)."""
    if task == "regression":
        return OutputSpec(task, 1, (0.0,))
    counts = np.bincount(y_train.astype("int64"), minlength=n_classes) + 1.0
    prior = counts / counts.sum()
    if task == "binary":
        return OutputSpec(task, 1, (float(math.log(prior[1] / prior[0])),))
    return OutputSpec(task, n_classes, tuple(float(v) for v in np.log(prior)))


def loss_of(task: str) -> str:
    return {
        "binary": "binary_crossentropy",
        "multiclass": "sparse_categorical_crossentropy",
        "regression": "mean_squared_error",
    }[task]


def keras_metrics(task: str) -> list:
    import keras

    if task == "binary":
        return [keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")]
    if task == "multiclass":
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    return [
        keras.metrics.MeanAbsoluteError(name="mae"),
        keras.metrics.RootMeanSquaredError(name="rmse"),
    ]


def optimizer(config: ExperimentConfig):
    import keras

    o = config.train.optimizer
    if o.name == "adam":
        return keras.optimizers.Adam(o.learning_rate)
    if o.name == "adamw":
        return keras.optimizers.AdamW(o.learning_rate, weight_decay=o.weight_decay)
    if o.name == "sgd":
        return keras.optimizers.SGD(o.learning_rate, momentum=o.momentum, nesterov=o.nesterov)
    return keras.optimizers.RMSprop(o.learning_rate)


def class_weights(config: ExperimentConfig, task: str, y: np.ndarray, n_classes: int):
    """`balanced`: weights inversely proportional to class frequency in the training split."""
    if config.train.class_weight != "balanced" or task == "regression":
        return None
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.arange(n_classes)
    weights = compute_class_weight("balanced", classes=classes, y=y.astype("int64"))
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}


def new_model(
    config: ExperimentConfig, task: str, x_train: np.ndarray, y_train: np.ndarray, n_classes: int
):
    """A freshly initialised, compiled model for the experiment (Keras seeded by the caller)."""
    model = build_model(
        config.model,
        InputSpec(tuple(x_train.shape[1:]), "tabular"),
        output_spec(task, y_train, n_classes),
    )
    model.compile(optimizer=optimizer(config), loss=loss_of(task), metrics=keras_metrics(task))
    return model
