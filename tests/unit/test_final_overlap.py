"""The finishing work computed side by side gives what one after another gives."""

from __future__ import annotations

import threading
import warnings
from functools import partial

import numpy as np
import pytest

from dltrain.evaluation import final
from dltrain.evaluation import metrics as M


def _score(seed: int) -> dict:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.clip(0.3 * y + rng.normal(0.35, 0.25, 300), 0, 1)
    names = M.default_metrics("binary")
    return M.score("binary", y, s, names=names, n_classes=2, threshold=0.5, n_boot=50,
                   confidence=0.95, seed=seed)  # fmt: skip


def test_results_come_in_order_and_equal_the_sequential_ones():
    calls = [partial(_score, seed) for seed in range(4)]
    assert final.concurrently(*calls) == [call() for call in calls]


def test_the_calls_run_in_threads_and_an_error_reaches_the_caller():
    seen = set()

    def where():
        seen.add(threading.get_ident())
        return 1

    def broken():
        raise ValueError("bad split")

    assert final.concurrently(where, where) == [1, 1]
    assert threading.get_ident() not in seen
    with pytest.raises(ValueError, match="bad split"):
        final.concurrently(where, broken)


def test_the_warning_filters_are_restored():
    before = list(warnings.filters)

    def quiet():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _score(1)

    final.concurrently(quiet, quiet, quiet)
    assert warnings.filters == before
