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


class FineTune(Section):
    """Two-stage fine-tuning of a model with a backbone (`pretrained`, or `init_from`).

    Stage 1 trains the head with the backbone frozen (its batch-norm layers in inference
    mode); stage 2 unfreezes all of the backbone, its last K layers, or the layers whose
    names match a pattern, at a lower learning rate. The stage of every epoch is in
    history.csv and the report.
    """

    frozen_epochs: PositiveInt = 5
    """Epochs of stage 1 (head only); stage 2 runs from there to train.epochs.
    Defaults to 5."""
    unfreeze: PositiveInt | str = "all"
    """What stage 2 trains: "all" of the backbone, a number K (its last K layers with
    weights), or a name pattern with * and ? wildcards (e.g. "block_1[3-6]_*"); batch-norm
    layers among them only with batch_norm: true. Defaults to "all"."""
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] = 1e-5
    """Learning rate of stage 2 (stage 1 uses train.optimizer's). Defaults to 1e-5."""
    batch_norm: bool = False
    """Also train the backbone's batch-norm layers in stage 2; by default they stay frozen
    and in inference mode (their statistics are the pretrained ones). Defaults to False."""


class InitFrom(Section):
    """Start from an earlier dltrain run's weights (`init_from: RUN_ID` is short for
    `init_from: {run: RUN_ID}`)."""

    run: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]
    """The id of a completed run, e.g. digits-cnn-2. Required."""
    layers: Literal["all", "backbone"] = "all"
    """"all": every layer with weights, matched by name; "backbone": only the backbone
    (a pretrained model's backbone, an autoencoder's encoder, else every layer but the
    output head), e.g. to reuse a network for another task. Defaults to "all"."""

    @model_validator(mode="before")
    @classmethod
    def _bare_run_id(cls, value):
        return {"run": value} if isinstance(value, str) else value


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
    measurements (see docs/performance.md): on a CPU, on for lstm and gru runs of at
    least 2000 training steps (1.1-1.5x faster per step, bit-exact under `deterministic`
    too; a shorter run does not pay back the 5-10 s of compiling) and off for the rest
    (a 2-D CNN is 5-10x slower with it); on a GPU, Keras's own choice, which is no XLA
    while op determinism is on. true on a GPU needs deterministic: false.
    Defaults to "auto"."""
    mixed_precision: bool = False
    """Compute in float16 with float32 weights ("mixed_float16"). Faster on a GPU with
    tensor cores, much slower on a CPU, so it is ignored with a warning there.
    Defaults to False."""
    init_from: InitFrom | None = None
    """Initialise the model from an earlier run's weights (layer by layer, by name; a shape
    mismatch is an error naming each layer), or null. Defaults to None."""
    fine_tune: FineTune | None = None
    """Two-stage fine-tuning (freeze the backbone, then unfreeze it at a lower learning
    rate), or null to train every layer from the start. Defaults to None."""
    distribute: Literal["none", "mirrored", "multi_worker"] = "none"
    """How training is spread over devices with `tf.distribute`: "none" (one device),
    "mirrored" (every GPU of this machine, MirroredStrategy) or "multi_worker" (several
    machines, MultiWorkerMirroredStrategy; each reads its role from the TF_CONFIG
    environment variable). `batch_size` is the global batch, split across all replicas.
    See docs/distributed.md. Defaults to "none"."""

    @model_validator(mode="after")
    def _stage_two_runs(self):
        if self.fine_tune is not None and self.fine_tune.frozen_epochs >= self.epochs:
            raise ValueError(
                "fine_tune.frozen_epochs must be less than epochs, or stage 2 (unfrozen) never "
                f"runs. Received: frozen_epochs={self.fine_tune.frozen_epochs}, "
                f"epochs={self.epochs}"
            )
        return self
