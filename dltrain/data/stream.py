"""Batches streamed from cache shards: one shard in memory at a time.

The order of an epoch is a pure function of (seed, epoch): shards in a seeded
order, samples shuffled inside each shard with a seed of (seed, epoch, shard).
Batches are cut from that sequence, so skipping the first `k * batch` samples
reproduces batches k, k+1, ... exactly — what resuming mid-epoch needs.
"""

from __future__ import annotations

import numpy as np

from dltrain.data.cache import Processed, read_shard


def _sizes(data: Processed, name: str) -> list[int]:
    return list(data.manifest["split"][name]["shard_sizes"])


def steps(data: Processed, name: str, batch: int) -> int:
    return -(-data.size(name) // batch)


def split_steps(data: Processed, name: str, batch: int) -> int:
    """Batches `split_batches` yields: batches do not cross shard boundaries there."""
    return sum(-(-size // batch) for size in _sizes(data, name))


def _finish(x: np.ndarray, y: np.ndarray, targets):
    """`targets(x, y)` makes the model's batch: (x, y) or (x, y, sample_weight)."""
    x = x.astype("float32") if x.dtype == np.uint8 else x
    return targets(x, y)


def epoch_batches(data: Processed, seed: int, epoch: int, start_step: int, batch: int, targets):
    """Yields training batches of one epoch, starting after `start_step` batches."""
    shards = data.shards("train")
    sizes = _sizes(data, "train")
    skip = start_step * batch
    pending_x, pending_y = [], []
    pending = 0
    for j in np.random.default_rng([seed, epoch]).permutation(len(sizes)):
        if skip >= sizes[j]:
            skip -= sizes[j]
            continue
        shard = read_shard(shards[j])
        order = np.random.default_rng([seed, epoch, int(j)]).permutation(sizes[j])[skip:]
        skip = 0
        x, y = shard.x[order], shard.y[order]
        start = 0
        if pending:
            need = batch - pending
            pending_x.append(x[:need])
            pending_y.append(y[:need])
            start = need
            pending += len(x[:need])
            if pending == batch:
                yield _finish(np.concatenate(pending_x), np.concatenate(pending_y), targets)
                pending_x, pending_y, pending = [], [], 0
        while start + batch <= len(x):
            yield _finish(x[start : start + batch], y[start : start + batch], targets)
            start += batch
        if start < len(x):
            pending_x.append(x[start:])
            pending_y.append(y[start:])
            pending += len(x) - start
    if pending:
        yield _finish(np.concatenate(pending_x), np.concatenate(pending_y), targets)


def split_batches(data: Processed, name: str, batch: int, targets):
    """Yields batches of a split in its stored order (evaluation, prediction)."""
    for path in data.shards(name):
        shard = read_shard(path)
        for start in range(0, len(shard.y), batch):
            yield _finish(shard.x[start : start + batch], shard.y[start : start + batch], targets)


def dataset(generator, specs):
    """A tf.data.Dataset over a batch generator (autotune off, two batches prefetched).

    Args:
        generator: a callable returning an iterator of batch tuples.
        specs: (shape without the batch axis, dtype) of each tuple element.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_generator(
        generator,
        output_signature=tuple(tf.TensorSpec((None, *shape), dtype) for shape, dtype in specs),
    )
    options = tf.data.Options()
    options.autotune.enabled = False  # PERFORMANCE-NOTES: autotune stalls at iterator teardown
    options.deterministic = True
    return ds.prefetch(2).with_options(options)
