"""The export check: the inputs to compare on, and the agreement with the Keras model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dltrain.errors import DltrainError

CHECK_SAMPLES = 64


class ExportError(DltrainError):
    """The exported model does not reproduce the run's model (exit 1: a converter bug)."""

    exit_code = 1
    title = "Export failed"


@dataclass(frozen=True)
class Agreement:
    """How well an export reproduces the run's Keras model (export.json's "check").

    Args:
        tolerance: the largest absolute difference allowed.
        max_abs_diff: the largest absolute difference found.
        samples: how many inputs were compared.
        inputs: where the inputs came from.
    """

    tolerance: float
    max_abs_diff: float
    samples: int
    inputs: str


def agreement(
    fmt: str, run_id: str, got, expected: np.ndarray, inputs: str, tolerance: float
) -> Agreement:
    """Compares an export's outputs with the Keras model's on the same inputs.

    Args:
        fmt: the format, for the message.
        run_id: the run, for the message.
        got: the exported model's outputs.
        expected: the Keras model's outputs (float64).
        inputs: where the inputs came from (see `check_inputs`).
        tolerance: the largest absolute difference allowed.

    Raises:
        ExportError: the shapes differ or a difference exceeds `tolerance`.
    """
    got = np.asarray(got, dtype="float64")
    diff = float(np.max(np.abs(got - expected))) if got.size else 0.0
    if got.shape != expected.shape or not diff <= tolerance:
        raise ExportError(
            f"the {fmt} export of run {run_id} does not reproduce its model: largest "
            f"difference {diff:.3g} on {len(expected)} sample(s) (allowed {tolerance:g}); "
            "nothing was written. Please report this with the run's config"
        )
    return Agreement(tolerance, diff, len(expected), inputs)


def check_inputs(run) -> tuple[np.ndarray, str]:
    """Up to 64 model inputs to compare on: the run's test split from the cache, if it is
    still there, else synthetic inputs of the right shape and range."""
    from dltrain.data.cache import read_shard

    t = run.transform
    spec = run.model.inputs[0]
    dtype = "int32" if "int" in str(spec.dtype) else "float32"
    cache = Path(run.dataset.cache or "")
    shards = sorted(cache.glob("test-*.npz")) if cache.is_dir() else []
    if shards:
        parts, have = [], 0
        for shard in shards:
            parts.append(read_shard(shard).x[: CHECK_SAMPLES - have])
            have += len(parts[-1])
            if have >= CHECK_SAMPLES:
                break
        x = np.concatenate(parts)
        if x.ndim == len(spec.shape) and tuple(x.shape[1:]) == tuple(spec.shape[1:]):
            return np.ascontiguousarray(x.astype(dtype)), "test split (processed cache)"
    rng = np.random.default_rng(0)
    shape = (min(CHECK_SAMPLES, 16), *spec.shape[1:])
    kind = run.config.data.kind
    if kind == "text":
        x = rng.integers(0, len(t.vocabulary) + 2, shape)
    elif kind == "images":
        x = rng.uniform(0, 255, shape)
    elif kind == "tabular":
        x = rng.normal(size=shape)
    else:
        mean = np.asarray(t.channel_mean)
        x = mean + np.sqrt(np.asarray(t.channel_var)) * rng.normal(size=shape)
    return x.astype(dtype), "synthetic (the run's cache is gone)"
