"""tf.data input pipelines.

Autotuning is switched off: on these CPU machines its teardown stalls 0.3–2.5 s
at the end of many epochs and evaluate calls (see PERFORMANCE-NOTES); a fixed
prefetch of two batches keeps the pipeline ahead of the model without it.
"""

from __future__ import annotations

import numpy as np


def make_dataset(
    x: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
):
    """A batched `tf.data.Dataset` over in-memory arrays.

    Args:
        x: inputs, one sample per row.
        y: targets, or None for prediction.
        batch_size: samples per batch.
        shuffle: reshuffle every epoch (training split only). Defaults to False.
        seed: shuffle seed; the order of epoch k is a fixed function of seed and k.
            Defaults to 0.

    Returns:
        The dataset.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).prefetch(2)
    options = tf.data.Options()
    options.autotune.enabled = False
    options.deterministic = True
    return ds.with_options(options)
