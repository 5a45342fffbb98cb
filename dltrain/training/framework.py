"""The process-wide state of Keras and TensorFlow a run sets: in one place, and restored.

A run seeds every random generator, switches TensorFlow's op determinism on or off and
chooses the precision policy; these are process-wide, so `configured(config)` sets them
for the length of one run (or tuning trial, or check) and puts back what was there.
The distribution strategy is the one exception: tf.distribute's is created once per
process, before any op (`dltrain.training.distribute`).
"""

from __future__ import annotations

import contextlib

from dltrain.config import ExperimentConfig


def on_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def seeded(config: ExperimentConfig) -> None:
    """Seeds Python, NumPy and TensorFlow; op determinism when `train.deterministic`."""
    import keras
    from tensorflow.python.framework import config as tf_config

    keras.utils.set_random_seed(config.seed)
    if config.train.deterministic:
        tf_config.enable_op_determinism()
    else:  # process-wide: undo an earlier run's setting in the same process
        tf_config.disable_op_determinism()


def precision_policy(config: ExperimentConfig) -> str:
    """ "mixed_float16" when asked for and a GPU is present, else "float32"."""
    return "mixed_float16" if config.train.mixed_precision and on_gpu() else "float32"


PRECISION_ON_CPU = (
    "train.mixed_precision is true but there is no GPU: float16 arithmetic on a CPU is "
    "slower, not faster, so training stays in float32"
)


@contextlib.contextmanager
def configured(config: ExperimentConfig, listener=None):
    """Seeds, sets op determinism and the precision policy for one run; restores both after.

    Args:
        config: the experiment.
        listener: told (`warn`) when mixed precision is asked for without a GPU.
            Defaults to None.
    """
    import keras
    from tensorflow.python.framework import config as tf_config

    policy = keras.mixed_precision.global_policy().name
    determinism = tf_config.is_op_determinism_enabled()
    wanted = precision_policy(config)
    if config.train.mixed_precision and wanted == "float32" and listener is not None:
        listener.warn(PRECISION_ON_CPU)
    try:
        seeded(config)
        keras.mixed_precision.set_global_policy(wanted)
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)
        (tf_config.enable_op_determinism if determinism else tf_config.disable_op_determinism)()


@contextlib.contextmanager
def xla_past_keras_check(needed: bool):
    """Lets Keras accept `jit_compile=True` under op determinism, for the compile call only.

    Keras's `model_supports_jit` refuses XLA whenever TensorFlow's op-determinism flag is
    set ("not all ops are supported by XLA with determinism enabled", a GPU concern), and
    checks it only in `compile`. The flag is off for that call and on again before any op
    runs; the architectures "auto" compiles with XLA on a CPU (lstm, gru) were verified to
    train bit-identically with it.
    """
    from tensorflow.python.framework import config as tf_config

    if not (needed and tf_config.is_op_determinism_enabled()):
        yield
        return
    tf_config.disable_op_determinism()
    try:
        yield
    finally:
        tf_config.enable_op_determinism()
