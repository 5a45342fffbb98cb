"""Building and compiling a model for an experiment: shared by training and the sanity suite."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dltrain import tasks
from dltrain.config import ExperimentConfig
from dltrain.errors import ConfigError
from dltrain.models import InputSpec, OutputSpec, build_model
from dltrain.training import framework


def monitor_of(config: ExperimentConfig, task: str) -> tuple[str, str]:
    """The validation quantity that picks the best epoch, and its mode (min/max)."""
    es = config.train.early_stopping
    monitor = es.monitor if es is not None else "val_loss"
    return monitor, validation_mode(config, task, monitor, "train.early_stopping.monitor")


def validation_mode(config: ExperimentConfig, task: str, metric: str, key: str) -> str:
    """ "max" or "min" for a per-epoch validation metric; a ConfigError at `key` when the
    task does not measure it."""
    available = ["val_loss"] + [f"val_{m}" for m in tasks.get(task).compiled]
    if metric not in available:
        raise ConfigError(
            f"{key} {metric!r} is not measured for a {task} task; "
            f"use one of {', '.join(available)}",
            where=config.where(key),
        )
    return "max" if metric.removeprefix("val_") in tasks.COMPILED_HIGHER_IS_BETTER else "min"


def output_spec(task: str, y_train: np.ndarray | None, n_classes: int) -> OutputSpec:
    """Output layer for the task, its bias set to the training priors (Karpathy: init well)."""
    return tasks.get(task).output_spec(y_train, n_classes)


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
    if config.train.class_weight != "balanced" or not tasks.get(task).exclusive:
        return None
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.arange(n_classes)
    weights = compute_class_weight("balanced", classes=classes, y=y.astype("int64"))
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}


def input_spec(transform, kind: str) -> InputSpec:
    """What the architecture receives (the data kind's `input_spec`)."""
    from dltrain.kinds import kind_of

    return kind_of(kind).input_spec(transform)


def new_model(config: ExperimentConfig, task: str, transform, y_train, n_classes: int, steps=None):
    """A freshly initialised, compiled model (Keras seeded by the caller).

    `steps`, the training steps the model is built for (None: a long run), decides
    `jit_compile: auto` (XLA's compile time pays off only over enough steps).

    The data kind's layers come before the architecture (`DataKind.layers`): for images,
    signals and volumes random augmentation (training only) and a Normalization layer with
    the training split's per-channel mean and variance, so the saved model carries its
    own preprocessing.
    """
    import keras

    from dltrain.kinds import kind_of

    kind = kind_of(config.data.kind)
    spec = kind.input_spec(transform)
    core = build_model(config.model, spec, output_spec(task, y_train, n_classes))
    front = kind.layers(transform, config.data, config.seed)
    if front:
        inp = keras.Input(spec.shape, name="inputs")
        x = inp
        for layer in front:
            x = layer(x)
        model = keras.Model(inp, core(x), name=f"{config.model.architecture}_{kind.name}")
    else:
        model = core
    jit = jit_compile(config, steps)
    with framework.xla_past_keras_check(jit is True):
        model.compile(
            optimizer=optimizer(config),
            loss=tasks.get(task).loss,
            metrics=tasks.get(task).keras_metrics(),
            jit_compile=jit,
            steps_per_execution=steps_per_execution(config),
        )
    from dltrain.training import stages

    stages.prepare(model, config)  # train.fine_tune: stage 1, backbone frozen
    return model


# Measured on 2 CPU cores, Keras 3.15 / TF 2.21, steady-state samples/s of the training step
# with XLA on / off (PERFORMANCE-NOTES.md; `python benchmarks/speed.py` re-measures it):
# LSTM 1.23-1.47x faster with XLA (dltrain's loop, 2026-11-26: 2882 vs 2398 samples/s),
# 2-D CNN 5-10x slower (hand-written: 311 vs 4209), MLP / 1-D CNN / Transformer even.
JIT_ON_CPU = {"lstm": True, "gru": True}
# XLA saves 2-5 ms a step on those (batch 64) and costs 5-10 s of compiling: a run of
# fewer steps than this is faster without it (a 12-step GRU test: 8 s without, 18 s with).
XLA_MIN_STEPS = 2000
# MLP +34-37 %, CNN / LSTM +2-8 % (PERFORMANCE-NOTES); dltrain's LSTM 2411 vs 2092 (+15 %)
STEPS_PER_EXECUTION = 16


def jit_compile(config: ExperimentConfig, steps: int | None = None):
    """`train.jit_compile`, with "auto" resolved per architecture on a CPU.

    Args:
        config: the experiment.
        steps: the training steps the model will run; None for a long run. XLA's compile
            (5-10 s for a small GRU on 2 cores) is paid back only over about
            `XLA_MIN_STEPS` steps, so a shorter run (and the sanity suite) runs without.
    """
    chosen = config.train.jit_compile
    if chosen is True and config.train.deterministic and framework.on_gpu():
        raise ConfigError(
            "train.jit_compile: true cannot work with train.deterministic: true on a GPU "
            "(Keras turns XLA off under op determinism, and XLA's GPU kernels are not "
            "verified bit-exact). Set train.deterministic: false to trade bit-exact reruns "
            "for XLA, or leave jit_compile: auto",
            where=config.where("train.jit_compile"),
        )
    if chosen != "auto":
        return chosen
    if framework.on_gpu():
        # Keras decides (XLA where the model supports it; none under op determinism)
        return "auto"
    # On a CPU also under op determinism: XLA's CPU code reruns and resumes bit-identically
    # (tests/integration/test_speed_defaults.py resumes an XLA run and compares weights).
    long_enough = steps is None or steps >= XLA_MIN_STEPS
    # Not measured (nor tested) with tf.distribute: its all-reduce inside the XLA step
    alone = config.train.distribute == "none"
    return JIT_ON_CPU.get(config.model.architecture, False) and long_enough and alone


def steps_per_execution(config: ExperimentConfig) -> int:
    chosen = config.train.steps_per_execution
    return STEPS_PER_EXECUTION if chosen == "auto" else chosen


@dataclass(frozen=True)
class Feeder:
    """Turns stored (x, y) into what the model is fitted to: targets, sample weights."""

    task: str
    kind: str
    x_shape: tuple[int, ...]
    x_dtype: str
    y_shape: tuple[int, ...]
    y_dtype: str
    weights: dict | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def fit_batch(self, x, y):
        y = self._y(x, y)
        if self.weights is None:
            return x, y
        w = np.array([self.weights[int(c)] for c in y], dtype="float32")
        return x, y, w

    def eval_batch(self, x, y):
        return x, self._y(x, y)

    def _y(self, x, y):
        if tasks.get(self.task).reconstructs:
            return ((x - self.mean) / self.std).astype("float32") if self.mean is not None else x
        return y.astype(self.y_dtype)

    def specs(self, weighted: bool = False):
        out = [(self.x_shape, self.x_dtype), (self.y_shape, self.y_dtype)]
        return out + [((), "float32")] if weighted else out


def feeder(config: ExperimentConfig, data, task: str, weights: dict | None = None) -> Feeder:
    transform = data.transform
    kind = config.data.kind
    spec = input_spec(transform, kind)
    x_shape, x_dtype = tuple(spec.shape), spec.dtype
    the_task = tasks.get(task)
    n_classes = len(data.manifest["classes"])
    mean = std = None
    if the_task.reconstructs and kind != "tabular":
        mean = np.asarray(transform.channel_mean, dtype="float32")
        std = np.sqrt(np.asarray(transform.channel_var, dtype="float32"))
    y_shape = the_task.y_shape(x_shape, n_classes)
    return Feeder(task, kind, x_shape, x_dtype, y_shape, the_task.y_dtype, weights, mean, std)
