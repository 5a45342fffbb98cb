"""Tabular preprocessing: fitted on training rows only, applied the same way everywhere."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dltrain.config.data import TabularData
from dltrain.data.tabular import Columns
from dltrain.data.transforms import MISSING_CATEGORY, TabularTransform
from dltrain.errors import DataError, RunError

CLASSES = ["healthy", "sick"]


@pytest.fixture
def source(tmp_path):
    return tmp_path / "t.csv"


@pytest.fixture
def table() -> pd.DataFrame:
    """Rows 0-4 are the training rows; rows 5-7 have very different values."""
    return pd.DataFrame(
        {
            "age": [10.0, 20.0, np.nan, 60.0, 30.0, 1000.0, np.nan, 2000.0],
            "dose": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            "sex": ["f", "m", "f", None, "m", "x", "f", " m "],
            "y": ["sick", "healthy", "sick", "healthy", "sick", "healthy", "sick", "sick"],
            "size": [1.5, 2.5, 3.5, 4.5, 5.5, 100.0, 200.0, 300.0],
        }
    )


COLUMNS = Columns(("age", "dose"), ("sex",), "y", None, None, None)


def fit(table, source, *, task="binary", classes=CLASSES, columns=COLUMNS, **cfg):
    config = TabularData(path="t.csv", target=columns.target, **cfg)
    return TabularTransform.fit(table.iloc[:5], columns, config, task, classes, source)


def test_statistics_come_from_training_rows_only(table, source):
    t = fit(table, source)
    assert t.fill["age"] == 25.0  # median of 10, 20, 60, 30; the full column's is 45
    filled = np.array([10.0, 20.0, 25.0, 60.0, 30.0])
    assert t.center["age"] == pytest.approx(filled.mean())
    assert t.scale["age"] == pytest.approx(filled.std())
    assert t.center["dose"] == pytest.approx(3.0)  # full column: 4.5
    assert t.scale["dose"] == pytest.approx(np.std([1, 2, 3, 4, 5]))
    assert t.categories["sex"] == [MISSING_CATEGORY, "f", "m"]  # no "x": it is not in training
    x, _ = t.features(table.iloc[:5], source)
    assert x[:, 0].mean() == pytest.approx(0.0, abs=1e-6)
    assert x[:, 1].std() == pytest.approx(1.0, abs=1e-6)


def test_mean_zero_and_minmax_options(table, source):
    t = fit(table, source, missing={"numeric": "mean"}, scale="minmax")
    assert t.fill["age"] == 30.0
    assert (t.center["dose"], t.scale["dose"]) == (1.0, 4.0)
    x, _ = t.features(table, source)
    assert x[:5, 1].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    t = fit(table, source, missing={"numeric": "zero"}, scale="none")
    assert t.fill["age"] == 0.0 and (t.center["age"], t.scale["age"]) == (0.0, 1.0)
    x, _ = t.features(table, source)
    assert x[:, 0].tolist()[:3] == [10.0, 20.0, 0.0]


def test_missing_indicator_columns(table, source):
    t = fit(table, source)
    assert t.indicator == ["age"]  # dose has no missing value in training
    assert t.feature_names == ["age", "dose", "age_missing", "sex=(missing)", "sex=f", "sex=m"]
    x, _ = t.features(table, source)
    assert x[:, 2].tolist() == [0, 0, 1, 0, 0, 0, 1, 0]
    assert x[2, 0] == pytest.approx((25.0 - t.center["age"]) / t.scale["age"])
    without = fit(table, source, missing={"indicator": False})
    assert without.indicator == [] and "age_missing" not in without.feature_names


def test_unseen_category_is_all_zeros_and_counted(table, source):
    t = fit(table, source)
    x, unseen = t.features(table, source)
    onehot = x[:, 3:]
    assert unseen == {"sex": 1}
    assert onehot[5].tolist() == [0, 0, 0]  # "x" was never seen in training
    assert onehot[3].tolist() == [1, 0, 0]  # missing is a category of its own
    assert onehot[7].tolist() == [0, 0, 1]  # " m " is "m"
    assert onehot.sum(axis=1).tolist() == [1, 1, 1, 1, 1, 0, 1, 1]


def test_class_labels_in_the_given_order(table, source):
    t = fit(table, source, classes=["sick", "healthy"])
    assert t.labels(table, source).tolist() == [0, 1, 0, 1, 0, 1, 0, 0]
    assert t.labels(table, source).dtype == np.int32


def test_unknown_class_names_its_row(table, source):
    t = fit(table, source)
    new = table.assign(y=["sick", "healthy", "unsure", "sick", "sick", "Sick", "sick", "sick"])
    with pytest.raises(DataError) as info:
        t.labels(new, source)
    error = info.value
    assert error.message.startswith("2 row(s) have a 'y' value that is not one of the trained")
    assert error.details == [f"{source}:4: 'unsure'", f"{source}:7: 'Sick'"]


def test_unknown_numeric_class_reads_as_a_plain_number(table, source):
    t = fit(table.assign(y=[0, 1, 0, 1, 0, 1, 0, 1]), source, classes=["0", "1"])
    with pytest.raises(DataError) as info:
        t.labels(table.assign(y=[0, 1, 2, 1, 0, 1, 0, 1]), source)
    assert info.value.details == [f"{source}:4: 2"]  # not np.int64(2)


def test_regression_target_is_standardised_and_restored(table, source):
    columns = Columns(("age", "dose"), ("sex",), "size", None, None, None)
    t = fit(table, source, task="regression", classes=[], columns=columns)
    assert t.target_mean == pytest.approx(3.5)  # training rows only
    assert t.target_std == pytest.approx(np.std([1.5, 2.5, 3.5, 4.5, 5.5]))
    y = t.labels(table, source)
    assert y.dtype == np.float32
    assert y[:5].mean() == pytest.approx(0.0, abs=1e-6) and y[:5].std() == pytest.approx(1.0)
    assert t.target_values(y) == pytest.approx(table["size"].to_numpy(), rel=1e-6)


def test_bad_regression_target_names_its_row(table, source):
    columns = Columns(("age", "dose"), (), "size", None, None, None)
    t = fit(table, source, task="regression", classes=[], columns=columns)
    bad = table.assign(size=["1", "2", "n/a", "4", "5", "6", "inf", "8"])
    with pytest.raises(DataError) as info:
        t.labels(bad, source)
    assert info.value.details == [f"{source}:4: 'size' = 'n/a'", f"{source}:8: 'size' = 'inf'"]


def test_missing_input_column(table, source):
    t = fit(table, source)
    with pytest.raises(DataError, match="lacks column.* the model was trained on: dose"):
        t.features(table.drop(columns=["dose"]), source)


def test_saved_json_gives_identical_features(table, source, tmp_path):
    t = fit(table, source)
    path = tmp_path / "preprocessing.json"
    t.save(path)
    assert json.loads(path.read_text())["fill"] == {"age": 25.0, "dose": 3.0}
    loaded = TabularTransform.load(path)
    assert loaded == t
    x, unseen = t.features(table, source)
    x2, unseen2 = loaded.features(table, source)
    assert np.array_equal(x, x2) and unseen == unseen2
    assert np.array_equal(t.labels(table, source), loaded.labels(table, source))


def test_unreadable_saved_json_is_a_run_error(tmp_path):
    path = tmp_path / "preprocessing.json"
    path.write_text('{"task": "binary"}')
    with pytest.raises(RunError, match="cannot read the fitted preprocessing"):
        TabularTransform.load(path)
    with pytest.raises(RunError):
        TabularTransform.load(tmp_path / "absent.json")
