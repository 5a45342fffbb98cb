"""Train/val/test splits: proportions, whole groups, user columns, and clear refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dltrain.config.data import ColumnSplit, GroupSplit, RandomSplit, StratifiedSplit
from dltrain.data import splits
from dltrain.errors import DataError


def where_row(i: int) -> str:
    return f"t.csv:{i + 2}"


def split(method, n_rows, *, labels=None, groups=None, column=None, seed=0):
    return splits.split_rows(
        method,
        n_rows=n_rows,
        labels=labels,
        groups=groups,
        column=column,
        seed=seed,
        where_row=where_row,
    )


def assert_partition(parts: dict[str, np.ndarray], n_rows: int) -> None:
    """Every row is in exactly one split, and each split is sorted."""
    assert set(parts) == {"train", "val", "test"}
    joined = np.concatenate([parts["train"], parts["val"], parts["test"]])
    assert sorted(joined.tolist()) == list(range(n_rows))
    for rows in parts.values():
        assert rows.tolist() == sorted(rows.tolist())


def unbalanced_labels(n: int = 200, share: float = 0.3) -> np.ndarray:
    labels = np.zeros(n, dtype=int)
    labels[: int(n * share)] = 1
    return np.random.default_rng(0).permutation(labels)


def test_stratified_split_keeps_class_proportions():
    labels = unbalanced_labels()
    parts = split(StratifiedSplit(), 200, labels=labels, seed=1)
    assert_partition(parts, 200)
    sizes = [len(parts[name]) for name in splits.SPLITS]
    assert abs(sizes[0] - 140) <= 1 and abs(sizes[1] - 30) <= 1 and sizes[2] == 30
    for rows in parts.values():
        assert abs(labels[rows].mean() - 0.3) < 0.02


def test_split_depends_on_the_seed_only():
    labels = unbalanced_labels()
    first = split(StratifiedSplit(), 200, labels=labels, seed=5)
    again = split(StratifiedSplit(), 200, labels=labels, seed=5)
    other = split(StratifiedSplit(), 200, labels=labels, seed=6)
    assert all(np.array_equal(first[k], again[k]) for k in splits.SPLITS)
    assert not np.array_equal(first["test"], other["test"])


def test_fractions_are_used():
    parts = split(RandomSplit(val=0.1, test=0.3), 100)
    assert_partition(parts, 100)
    sizes = [len(parts[name]) for name in splits.SPLITS]
    # val is taken as val / (1 - test) of the rest, which float rounding can make one more
    assert abs(sizes[0] - 60) <= 1 and abs(sizes[1] - 10) <= 1 and sizes[2] == 30


@pytest.mark.parametrize("method", [StratifiedSplit(), RandomSplit(), GroupSplit()])
def test_groups_are_never_in_two_splits(method):
    n = 180
    rng = np.random.default_rng(7)
    groups = np.array([f"p{g}" for g in rng.integers(0, 30, size=n)], dtype=object)
    labels = (rng.random(n) < 0.4).astype(int)
    for seed in range(4):
        parts = split(method, n, labels=labels, groups=groups, seed=seed)
        assert_partition(parts, n)
        seen = {name: set(groups[rows]) for name, rows in parts.items()}
        assert not seen["train"] & seen["val"]
        assert not seen["train"] & seen["test"]
        assert not seen["val"] & seen["test"]
        assert len(seen["train"]) > len(seen["val"]) > 0 and len(seen["test"]) > 0


def test_column_split_follows_the_column():
    column = pd.Series(["train", " val ", "test", "train", "val", "train"])
    parts = split(ColumnSplit(column="part"), 6, column=column)
    assert {k: v.tolist() for k, v in parts.items()} == {
        "train": [0, 3, 5],
        "val": [1, 4],
        "test": [2],
    }


def test_column_split_with_own_values():
    column = pd.Series(["fit", "tune", "hold", "fit"])
    method = ColumnSplit(column="part", train="fit", val="tune", test="hold")
    parts = split(method, 4, column=column)
    assert {k: v.tolist() for k, v in parts.items()} == {"train": [0, 3], "val": [1], "test": [2]}


def test_column_split_lists_unknown_values_by_line():
    column = pd.Series(["train", "val", "TRAIN", "test", None, "validation"])
    with pytest.raises(DataError) as info:
        split(ColumnSplit(column="part"), 6, column=column)
    error = info.value
    assert error.message.startswith("3 row(s) have a split value other than 'train', 'val'")
    assert error.details == [
        "t.csv:4: column 'part' has 'TRAIN'",
        "t.csv:6: column 'part' has nan",
        "t.csv:7: column 'part' has 'validation'",
    ]


def test_numeric_split_column_values_read_plainly():
    column = pd.Series([0, 1, 2, 7, 0])
    method = ColumnSplit(column="fold", train="0", val="1", test="2")
    with pytest.raises(DataError) as info:
        split(method, 5, column=column)
    assert info.value.details == ["t.csv:5: column 'fold' has 7"]  # not np.int64(7)
    parts = split(method, 5, column=column.replace(7, 0))
    assert {k: v.tolist() for k, v in parts.items()} == {
        "train": [0, 3, 4],
        "val": [1],
        "test": [2],
    }


def test_column_split_with_an_empty_split():
    column = pd.Series(["train", "val", "train"])
    with pytest.raises(DataError, match="the test split is empty"):
        split(ColumnSplit(column="part"), 3, column=column)


def test_column_split_that_splits_a_group_is_refused():
    column = pd.Series(["train", "val", "val", "test"])
    groups = np.array(["a", "a", "b", "c"], dtype=object)
    with pytest.raises(DataError, match="patient-level leakage") as info:
        split(ColumnSplit(column="part"), 4, groups=groups, column=column)
    assert info.value.details == ["group 'a' is in both train and val"]


def test_too_few_rows_in_a_class():
    labels = np.array([0] * 20 + [1])
    with pytest.raises(DataError) as info:
        split(StratifiedSplit(), 21, labels=labels)
    message = info.value.message
    assert message.startswith("too few rows to stratify the test split (class index 1: 1 row(s))")
    assert "at least 3 rows" in message


def test_too_few_rows_in_a_class_with_groups():
    labels = np.array([0] * 20 + [1])
    groups = np.array([f"p{i}" for i in range(21)], dtype=object)
    with pytest.raises(DataError, match=r"too few rows to stratify the test split"):
        split(StratifiedSplit(), 21, labels=labels, groups=groups)


@pytest.mark.parametrize("method", [GroupSplit(), RandomSplit(), StratifiedSplit()])
def test_fewer_than_three_groups(method):
    groups = np.array(["a"] * 6 + ["b"] * 6, dtype=object)
    labels = np.array([0, 1] * 6)
    with pytest.raises(DataError, match=r"only 2 distinct group\(s\) in data.group"):
        split(method, 12, labels=labels, groups=groups)


def test_check_classes_present_lists_every_gap():
    labels = np.array([0, 1, 0, 1, 2])
    parts = {"train": np.array([0, 1, 4]), "val": np.array([2]), "test": np.array([3])}
    with pytest.raises(DataError) as info:
        splits.check_classes_present(parts, labels, ["a", "b", "c"])
    assert info.value.details == [
        "class 'b' has no rows in the val split",
        "class 'c' has no rows in the val split",
        "class 'a' has no rows in the test split",
        "class 'c' has no rows in the test split",
    ]
    complete = {"train": np.array([0, 1, 4]), "val": np.array([1, 2, 4]), "test": np.arange(5)}
    splits.check_classes_present(complete, labels, ["a", "b", "c"])  # no error


def test_check_groups_disjoint():
    groups = np.array(["a", "b", "c", "a"], dtype=object)
    splits.check_groups_disjoint(
        {"train": np.array([0, 3]), "val": np.array([1]), "test": np.array([2])}, groups
    )
    with pytest.raises(DataError) as info:
        splits.check_groups_disjoint(
            {"train": np.array([0]), "val": np.array([1]), "test": np.array([2, 3])}, groups
        )
    assert info.value.details == ["group 'a' is in both train and test"]


def test_column_split_with_train_and_test_only_carves_val_out_of_train():
    column = pd.Series(["train"] * 40 + ["test"] * 10)
    labels = np.array([0, 1] * 25)
    groups = np.array([f"p{i // 2}" for i in range(50)], dtype=object)
    method = ColumnSplit(column="part", val_fraction=0.25)
    parts = split(method, 50, labels=labels, groups=groups, column=column)
    assert parts["test"].tolist() == list(range(40, 50))
    assert len(parts["val"]) > 0 and set(parts["val"]) < set(range(40))
    assert not set(groups[parts["val"]]) & set(groups[parts["train"]])
    assert set(labels[parts["val"]]) == {0, 1}
    assert splits.carved(method, column) and not splits.carved(method, pd.Series(["val"]))
