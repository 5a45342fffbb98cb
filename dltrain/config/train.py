"""The `train:` section: optimiser, epochs, batch size, early stopping."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, model_validator

from dltrain.config.base import Section, tagged_union

LearningRate = Annotated[float, Field(gt=0.0, le=10.0)]


class Adam(Section):
    name: Literal["adam"] = "adam"
    learning_rate: LearningRate = 1e-3
    """Step size. Defaults to 1e-3."""


class AdamW(Section):
    name: Literal["adamw"] = "adamw"
    learning_rate: LearningRate = 1e-3
    """Step size. Defaults to 1e-3."""
    weight_decay: Annotated[float, Field(ge=0.0)] = 1e-4
    """Decoupled weight decay. Defaults to 1e-4."""


class SGD(Section):
    name: Literal["sgd"] = "sgd"
    learning_rate: LearningRate = 1e-2
    """Step size. Defaults to 1e-2."""
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    """Momentum. Defaults to 0.9."""
    nesterov: bool = False
    """Nesterov momentum. Defaults to False."""


class RMSprop(Section):
    name: Literal["rmsprop"] = "rmsprop"
    learning_rate: LearningRate = 1e-3
    """Step size. Defaults to 1e-3."""


OptimizerConfig = tagged_union("name", Adam, AdamW, SGD, RMSprop, default="adam")

Monitor = Literal["val_loss", "val_auc", "val_accuracy", "val_mae", "val_rmse"]


class EarlyStopping(Section):
    """Stop when a validation metric has stopped improving; the best epoch is kept."""

    monitor: Monitor = "val_loss"
    """Validation metric watched (never a test metric). Defaults to "val_loss"."""
    patience: PositiveInt = 10
    """Epochs without improvement before stopping. Defaults to 10."""
    min_delta: Annotated[float, Field(ge=0.0)] = 0.0
    """Smallest change that counts as an improvement. Defaults to 0.0."""


class TrainConfig(Section):
    """How the model is fitted. The test split is never seen here."""

    epochs: PositiveInt = 50
    """Maximum number of passes over the training split. Defaults to 50."""
    batch_size: PositiveInt = 32
    """Samples per gradient step. Defaults to 32."""
    optimizer: OptimizerConfig = Adam()
    """The optimiser, chosen by `name`. Defaults to Adam with learning rate 1e-3."""
    early_stopping: EarlyStopping | None = EarlyStopping()
    """Early stopping on a validation metric, or null to train all epochs. The best
    checkpoint (by this monitor, or by val_loss when null) becomes the final model."""
    class_weight: Literal["none", "balanced"] = "none"
    """"balanced" weights each class inversely to its frequency in the training split."""
    checkpoint_every: PositiveInt | None = None
    """Also save a resume checkpoint every N training steps, not only at the end of each
    epoch (for long epochs). Defaults to None."""
    sanity: bool = True
    """Run the sanity suite (initial loss, overfit one batch, input-independent model,
    baselines) before training and record it in the run. Defaults to True."""
    deterministic: bool = True
    """Make training bit-reproducible for a given seed (TensorFlow op determinism)."""
    steps_per_execution: PositiveInt | Literal["auto"] = "auto"
    """Training steps run per call into TensorFlow: fewer Python round trips. "auto"
    means 16 (measured on 2 CPU cores: MLP +34-37 %, CNN/LSTM +2-8 %, no loss seen);
    a stop signal or `checkpoint_every` then acts at the end of a group of steps.
    Results do not depend on it. Defaults to "auto"."""
    jit_compile: bool | Literal["auto"] = "auto"
    """Compile the training step with XLA. "auto" chooses per architecture from
    measurements (see docs/performance.md): on a CPU, on for lstm and gru (1.2-1.5x
    faster) and off for the rest (a 2-D CNN is 5-10x slower with it); on a GPU,
    Keras's own choice. Keras runs nothing under XLA while op determinism is on, so
    "auto" is off whenever `deterministic` is true, and true needs deterministic: false.
    Defaults to "auto"."""
    mixed_precision: bool = False
    """Compute in float16 with float32 weights ("mixed_float16"). Faster on a GPU with
    tensor cores, much slower on a CPU, so it is ignored with a warning there.
    Defaults to False."""
    distribute: Literal["none", "mirrored", "multi_worker"] = "none"
    """How training is spread over devices with `tf.distribute`: "none" (one device),
    "mirrored" (every GPU of this machine, MirroredStrategy) or "multi_worker" (several
    machines, MultiWorkerMirroredStrategy; each reads its role from the TF_CONFIG
    environment variable). `batch_size` is the global batch, split across all replicas.
    See docs/distributed.md. Defaults to "none"."""

    @model_validator(mode="after")
    def _xla_needs_nondeterminism(self):
        if self.jit_compile is True and self.deterministic:
            raise ValueError(
                "jit_compile: true cannot work with deterministic: true (Keras turns XLA off "
                "while TensorFlow's op determinism is on). Set train.deterministic: false to "
                "trade bit-exact reruns for XLA, or leave jit_compile: auto. Received: "
                "jit_compile=True, deterministic=True"
            )
        return self
