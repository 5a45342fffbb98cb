"""The leakage audit of preprocess: identical samples across splits, imbalance, the record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dltrain.cli import app
from dltrain.config import load_config
from dltrain.data.audit import row_hashes
from dltrain.data.cache import preprocess
from dltrain.data.tabular import Columns
from dltrain.errors import DataError
from tests.conftest import BASIC_CONFIG, make_table, write_config

FOLD_SPLIT = "id: patient\n  split: {method: column, column: fold}"
INPUTS = ["age", "marker", "noise", "sex"]
FOLDS = ["train"] * 6 + ["val"] * 2 + ["test"] * 2


def folded_table() -> pd.DataFrame:
    """90 rows; row i is train when i % 10 < 6, val when 6 or 7, test when 8 or 9."""
    table = make_table()
    table["fold"] = [FOLDS[i % 10] for i in range(90)]
    return table


def config(workdir: Path, table: pd.DataFrame, old: str, new: str):
    table.to_csv(workdir / "table.csv", index=False)
    assert old in BASIC_CONFIG
    return load_config(write_config(workdir, BASIC_CONFIG.replace(old, new)))


def test_identical_inputs_in_two_splits_are_refused_with_both_lines(workdir):
    table = folded_table()
    table.loc[9, INPUTS] = table.loc[0, INPUTS]  # row 0 is train, row 9 is test
    table.loc[13, INPUTS] = table.loc[6, INPUTS]  # val and train
    with pytest.raises(DataError) as info:
        preprocess(config(workdir, table, "id: patient", FOLD_SPLIT))
    assert info.value.message.startswith(
        "2 input(s) occur in more than one split (2 train row(s), 1 val row(s), 1 test row(s)): "
        "the model would be tested on samples it was trained or tuned on."
    )
    assert "set data.allow_duplicates: true" in info.value.message
    assert info.value.details == [
        "table.csv:2 (train) = table.csv:11 (test)",
        "table.csv:8 (val) = table.csv:15 (train)",
    ]
    assert not Path("data/processed").exists() or not any(Path("data/processed").iterdir())


def test_allowed_duplicates_are_recorded_and_warned(workdir):
    table = folded_table()
    table.loc[9, INPUTS] = table.loc[0, INPUTS]
    new = FOLD_SPLIT + "\n  allow_duplicates: true"
    audit = preprocess(config(workdir, table, "id: patient", new)).manifest["audit"]
    across = audit["duplicates"]["across_splits"]
    assert across == {
        "inputs": 1,
        "rows_by_split": {"train": 1, "val": 0, "test": 1},
        "allowed": True,
        "examples": ["table.csv:2 (train) = table.csv:11 (test)"],
    }
    assert audit["warnings"] == [
        "1 input(s) occur in more than one split (1 train row(s), 1 test row(s)); allowed by "
        "data.allow_duplicates, so test metrics may be optimistic"
    ]


def test_duplicates_within_a_split_are_only_counted(workdir):
    table = folded_table()
    table.loc[1, INPUTS] = table.loc[0, INPUTS]  # both train
    table.loc[10, INPUTS] = table.loc[0, INPUTS]  # train again
    table.loc[19, INPUTS] = table.loc[18, INPUTS]  # both test
    audit = preprocess(config(workdir, table, "id: patient", FOLD_SPLIT)).manifest["audit"]
    assert audit["duplicates"]["within_split"] == {"train": 2, "val": 0, "test": 1}
    assert audit["duplicates"]["across_splits"]["inputs"] == 0
    assert audit["warnings"] == []


def test_the_hash_reads_values_not_spelling(tmp_path):
    frame = pd.DataFrame(
        {"age": ["61.5", "61.50", "61.5", "61.6"], "sex": ["f", " f ", "m", "f"], "y": [0] * 4}
    )
    columns = Columns(("age",), ("sex",), "y", None, None, None)
    h = row_hashes(frame, columns, tmp_path / "t.csv")
    assert h[0] == h[1]
    assert len({h[0], h[2], h[3]}) == 3


def test_strong_imbalance_is_a_warning_in_the_audit(workdir):
    table = make_table(n=100)
    table["outcome"] = ["sick" if i % 12 == 0 else "healthy" for i in range(100)]  # 9 sick
    processed = preprocess(config(workdir, table, "evaluate", "evaluate"))
    assert processed.manifest["split"]["train"]["class_counts"] == {"healthy": 63, "sick": 6}
    audit = processed.manifest["audit"]
    imbalance = audit["imbalance"]
    assert (imbalance["minority_class"], imbalance["majority_class"]) == ("sick", "healthy")
    assert imbalance["minority_share"] == pytest.approx(6 / 69, abs=1e-4)
    assert imbalance["ratio"] == pytest.approx(63 / 6)
    assert imbalance["strong"] is True
    assert audit["warnings"] == [
        "class 'sick' is 8.7% of the training split (10.5 'healthy' rows per 'sick' row); "
        "accuracy is misleading here: read balanced accuracy, sensitivity and PR-AUC, and "
        "consider train.class_weight: balanced"
    ]


def test_audit_is_in_the_manifest_with_groups_and_test_hash(workdir):
    processed = preprocess(config(workdir, make_table(groups=18), "id: patient", "group: patient"))
    manifest = processed.manifest
    audit = manifest["audit"]
    assert audit["groups"] == {"column": "patient", "checked": True, "in_several_splits": 0}
    assert audit["classes"] == {"checked": True, "missing_from_a_split": 0}
    assert audit["test_sha256"] == manifest["split"]["test"]["sha256"]
    assert audit["imbalance"]["strong"] is False and audit["warnings"] == []
    assert audit["duplicates"]["across_splits"]["inputs"] == 0


def test_regression_has_no_class_checks(workdir):
    table = make_table(task="regression")
    audit = preprocess(config(workdir, table, "evaluate", "evaluate")).manifest["audit"]
    assert audit["groups"] is None and audit["classes"] is None and audit["imbalance"] is None


def test_preprocess_command_prints_the_audit_and_its_warnings(workdir):
    table = make_table(n=100)
    table["outcome"] = np.where(np.arange(100) % 12 == 0, "sick", "healthy")
    config(workdir, table, "evaluate", "evaluate")
    result = CliRunner().invoke(app, ["preprocess", "exp.yaml"])
    assert result.exit_code == 0, result.output
    assert "Leakage audit: no input in two splits" in result.output
    assert "Warning: class 'sick' is 8.7% of the training split" in result.output
