"""`data.rare_classes`: a class too rare to be in train, val and test is an error naming the
option (default), merged into one class, or dropped, with the counts in the manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dltrain.config import load_config
from dltrain.config.data import GroupSplit, StratifiedSplit
from dltrain.data import splits
from dltrain.data.cache import preprocess
from dltrain.data.targets import Targets
from dltrain.errors import ConfigError, DataError
from tests.conftest import BASIC_CONFIG, make_table, write_config

ROWS = {"groups": None, "column": None, "seed": 0, "where_row": lambda i: f"t.csv:{i + 2}"}


def target(counts: dict[str, int], task: str = "multiclass") -> Targets:
    labels = np.repeat(np.arange(len(counts)), list(counts.values()))
    labels = np.random.default_rng(0).permutation(labels)
    return Targets(task, list(counts), labels, labels.astype("int32"))


def split(t: Targets, policy: str, method=StratifiedSplit(), other="other", **extra):
    return splits.split_classes(method, t, policy=policy, other=other, **{**ROWS, **extra})


def classes_in(done, name: str) -> set[str]:
    labels = done.target.labels[done.parts[name]]
    return {done.target.classes[i] for i in np.unique(labels)}


def test_error_is_the_default_and_names_the_classes_and_the_option(workdir):
    t = target({"a": 30, "b": 30, "c": 2, "d": 1})
    with pytest.raises(DataError) as info:
        split(t, "error")
    message = info.value.message
    assert "too few: 'c': 2 row(s), 'd': 1 row(s)" in message
    assert "data.rare_classes: merge" in message and "drop" in message
    assert load_config(_config_file(workdir)).data.rare_classes == "error"


def test_merge_makes_one_class_and_counts_it():
    t = target({"a": 30, "b": 30, "c": 2, "d": 1, "e": 3})
    done = split(t, "merge")
    assert done.target.classes == ["a", "b", "other"]
    # 'e' has three rows, but a 10-row test split has none of them: rare too
    assert done.rare == {
        "policy": "merge", "classes": {"c": 2, "d": 1, "e": 3}, "rows": 6, "into": "other"
    }  # fmt: skip
    assert np.bincount(done.target.labels).tolist() == [30, 30, 6]
    assert np.array_equal(done.target.y, done.target.labels.astype("int32"))
    for name in splits.SPLITS:
        assert classes_in(done, name) == {"a", "b", "other"}
    assert sum(len(p) for p in done.parts.values()) == 66


def test_merge_into_an_existing_class_of_that_name():
    t = target({"a": 30, "b": 30, "c": 2, "misc": 20})
    done = split(t, "merge", other="misc")
    assert done.target.classes == ["a", "b", "misc"]
    assert np.bincount(done.target.labels).tolist() == [30, 30, 22]


def test_drop_leaves_the_rows_out_and_counts_them():
    t = target({"a": 30, "b": 30, "c": 2, "d": 1})
    done = split(t, "drop")
    assert done.target.classes == ["a", "b"]
    assert done.rare == {"policy": "drop", "classes": {"c": 2, "d": 1}, "rows": 3}
    used = np.concatenate(list(done.parts.values()))
    assert len(used) == 60 and (done.target.labels[used] >= 0).all()
    assert (done.target.labels == -1).sum() == 3


def test_nothing_rare_splits_exactly_as_the_error_policy():
    t = target({"a": 30, "b": 25, "c": 20})
    base = split(t, "error")
    for policy in ("merge", "drop"):
        done = split(t, policy)
        assert done.target is t and done.rare["classes"] == {}
        for name in splits.SPLITS:
            assert np.array_equal(done.parts[name], base.parts[name])


def test_merged_class_still_too_rare_is_an_error():
    with pytest.raises(DataError, match=r"merged into 'other' \('c': 1 row\(s\)\) are still"):
        split(target({"a": 30, "b": 30, "c": 1}), "merge")


def test_a_binary_target_cannot_lose_a_class():
    with pytest.raises(DataError, match="a binary task cannot merge or drop"):
        split(target({"no": 40, "yes": 2}, task="binary"), "drop")


def test_dropping_all_but_one_class_is_an_error():
    with pytest.raises(DataError, match="leaves fewer than two classes"):
        split(target({"a": 40, "b": 2, "c": 1}), "drop")


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_groups_missing_a_class_are_dropped():
    # class 'c' has 6 rows, but all of one patient: it can be in one split only
    t = target({"a": 30, "b": 30, "c": 6})
    groups = np.array([f"p{i // 3}" for i in range(66)], dtype=object)
    groups[t.labels == 2] = "pc"
    with pytest.raises(DataError, match="class 'c' has no rows in the"):
        split(t, "error", method=GroupSplit(), groups=groups)
    done = split(t, "drop", method=GroupSplit(), groups=groups)
    assert done.rare["classes"] == {"c": 6} and done.target.classes == ["a", "b"]


def test_a_fold_keeps_the_classes_of_the_configured_split():
    t = target({"a": 30, "b": 30, "c": 2, "d": 2, "e": 2})
    configured = split(t, "merge")
    for index in range(3):
        done = split(t, "merge", fold=(index, 3))
        assert done.target.classes == configured.target.classes
        assert np.array_equal(done.parts["test"], configured.parts["test"])


def _config_file(folder, data: str = ""):
    """BASIC_CONFIG with more `data:` settings."""
    return write_config(folder, BASIC_CONFIG.replace("  id: patient\n", "  id: patient\n" + data))


@pytest.fixture
def rare_table(workdir):
    table = make_table(n=60, task="multiclass")
    table.loc[range(8), "outcome"] = ["r1", "r1", "r2", "r2", "r3", "r3", "r4", "r4"]
    table.to_csv(workdir / "table.csv", index=False)
    return table


def test_the_manifest_records_what_was_merged(rare_table, workdir):
    config = load_config(_config_file(workdir, "  rare_classes: merge\n  other_class: rest\n"))
    data = preprocess(config)
    record = data.manifest["rare_classes"]
    assert record == {
        "policy": "merge", "classes": {"r1": 2, "r2": 2, "r3": 2, "r4": 2}, "rows": 8,
        "into": "rest",
    }  # fmt: skip
    assert data.manifest["classes"][-1] == "rest"
    stored = json.loads((data.path / "manifest.json").read_text())
    assert stored["rare_classes"] == record
    counts = [data.manifest["split"][s]["class_counts"]["rest"] for s in splits.SPLITS]
    assert all(counts) and sum(counts) == 8


def test_a_bad_policy_is_a_config_error(workdir):
    with pytest.raises(ConfigError, match="rare_classes"):
        load_config(_config_file(workdir, "  rare_classes: keep\n"))
