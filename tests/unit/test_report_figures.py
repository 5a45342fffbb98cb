"""Per-class figures stay legible at any class count: bars for a few classes, a heat map
with the values written in for many, a confusion matrix that grows with the classes."""

from __future__ import annotations

import numpy as np

from dltrain.evaluation import plots


def _metrics(n: int) -> dict:
    classes = [f"class_{i}" for i in range(n)]
    rng = np.random.default_rng(0)
    per = {c: {k: float(rng.uniform()) for k in plots.PER_CLASS} | {"support": 9} for c in classes}
    return {
        "task": "multiclass",
        "classes": classes,
        "threshold": None,
        "per_class": {"test": per},
        "confusion": {"test": rng.integers(0, 9, (n, n)).tolist()},
    }


def test_a_few_classes_get_bars_and_many_get_a_heat_map_with_values():
    few = plots.per_class(_metrics(3), "test")
    assert few.axes[0].patches and not few.axes[0].images
    many = plots.per_class(_metrics(24), "test")
    ax = many.axes[0]
    assert ax.images and len(ax.texts) == 24 * len(plots.PER_CLASS)  # every value written in
    assert len(ax.get_yticklabels()) == 24
    assert many.get_size_inches()[1] > few.get_size_inches()[1]  # taller, not squeezed


def test_the_confusion_matrix_grows_with_the_classes():
    small = plots.confusion_matrix(_metrics(3), "test").get_size_inches()
    large = plots.confusion_matrix(_metrics(20), "test").get_size_inches()
    assert large[0] > small[0] and large[1] > small[1]
