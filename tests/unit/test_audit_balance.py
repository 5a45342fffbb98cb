"""The imbalance warning compares a class's share with what a balanced split gives (1/C)."""

from __future__ import annotations

import numpy as np

from dltrain.data.audit import _imbalance


def _check(counts: list[int]) -> dict:
    labels = np.repeat(np.arange(len(counts)), counts)
    classes = [f"c{i}" for i in range(len(counts))]
    return _imbalance(labels, classes, np.arange(len(labels)))


def test_ten_balanced_classes_are_not_imbalanced():
    # each class is under 10% of the split: balanced all the same, and no warning
    assert _check([95, 100, 102, 98, 101, 99, 100, 103, 97, 105])["strong"] is False


def test_a_rare_class_among_many_is_still_imbalanced():
    assert _check([100] * 9 + [8])["strong"] is True  # 12.5 to 1
    assert _check([100] * 20 + [10] + [60])["strong"] is True  # 10 to 1


def test_binary_keeps_its_threshold():
    assert _check([91, 9])["strong"] is True and _check([88, 12])["strong"] is False
