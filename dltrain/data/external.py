"""The external test set (`data.external`): a fixed cohort scored once, apart from the
internal test split (e.g. patients of another hospital).

It is read by the same kind, decoders and options as `data.path` (brought to the fitted
shape: the image colour, the series length), encoded with the training classes, never
split, and written to the same cache folder as shards `external-NNNNN.npz` with its own
content hash, after the statistics are fitted on the internal train split: it is never
used for fitting, threshold choice or model selection. The manifest's "external" entry
records its source, size, hash and class counts, and how many of its samples are
identical to internal ones and how many of its groups (patients) are internal ones too.
"""

from __future__ import annotations

import numpy as np

from dltrain.data import targets
from dltrain.errors import DataError

SPLIT = "external"


def build(config, kind, transform, target, folder, shards_class, internal_hashes, groups) -> dict:
    """Reads, encodes and writes the external set; returns the manifest's "external" entry.

    Args:
        config: the experiment (with `data.external`).
        kind: its `DataKind`.
        transform: the statistics fitted on the internal train split.
        target: the internal targets (`targets.Targets`): the classes and their order.
        folder: the cache folder being built.
        shards_class: the builder's shard writer.
        internal_hashes: the per-sample hashes of the internal samples (the audit's).
        groups: the internal samples' groups, or None.

    Raises:
        DataError: unreadable files, an unknown class, or samples of another shape.
    """
    from dltrain.kinds.paths import source_record

    ext_config = kind.external_config(config, transform)
    samples = kind.read(ext_config)
    if tuple(samples.shape) != tuple(transform.shape):
        raise DataError(
            f"the external test set's samples have shape {tuple(samples.shape)}; the model's "
            f"input (fitted on data.path) is {tuple(transform.shape)}: bring them to one shape",
            where=config.where("data.external.path"),
        )
    encoded = targets.encode_known(samples.table, config.data.target, target, config, samples.where)
    ext_groups = kind.group_values(ext_config, samples)
    writer = shards_class(
        kind,
        samples,
        transform,
        encoded,
        kind.targets(transform, samples, encoded),
        ext_groups,
        folder,
    )
    info = writer.write(
        SPLIT, np.arange(len(samples)), [config.seed, 99], kind.shard_size(config, samples)
    )
    shared = np.isin(writer.hashes, internal_hashes)
    entry = {
        "source": source_record(ext_config),
        **info,
        "identical_to_internal": int(shared.sum()),
        "scored": "once, after the internal test split, at the threshold chosen on validation",
    }
    if groups is not None and ext_groups is not None:
        entry["groups_also_internal"] = int(len(np.intersect1d(np.unique(ext_groups), groups)))
    return entry
