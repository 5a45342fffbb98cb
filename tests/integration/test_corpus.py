"""The bad-input corpus (tests/corpus/): each file gives its documented exit code and a
message naming the file and the row or column, no traceback, and leaves nothing behind."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import BASIC_CONFIG, REPO, write_config

pytestmark = pytest.mark.slow

CORPUS = REPO / "tests" / "corpus"

# file, exit code, what the message must say
PREPROCESS_CASES = [
    ("extra_field.csv", 3, "table.csv:11: cannot parse the CSV"),
    ("empty.csv", 3, "table.csv: the file is empty"),
    ("header_only.csv", 3, "has a header but no data rows"),
    ("latin1.csv", 3, "is not valid utf-8 text"),
    ("text_in_number.csv", 3, "table.csv:14: column 'age': value '61,5' is not a number"),
    ("infinite.csv", 3, "table.csv:6: column 'marker': value inf is infinite"),
    ("huge_value.csv", 3, "table.csv:22: column 'age': value 1e+300 is too large"),
    ("missing_target.csv", 3, "table.csv:5: column 'outcome' is empty"),
    ("duplicate_header.csv", 3, "table.csv:1: column 'age' appears twice"),
    ("one_class.csv", 3, "has a single value ('sick')"),
    ("binary.csv", 3, "table.csv"),
]


def _nothing_left(workdir):
    for folder in ("runs", "data/processed"):
        path = workdir / folder
        assert not path.exists() or not list(path.iterdir()), folder


@pytest.mark.parametrize(("name", "code", "needle"), PREPROCESS_CASES)
def test_bad_file_is_refused_cleanly(workdir, cli, name, code, needle):
    shutil.copy(CORPUS / name, workdir / "table.csv")
    config = write_config(workdir, BASIC_CONFIG)
    result = cli("train", config)
    assert result.exit_code == code, result.output
    assert needle in result.output.replace("\n", " "), result.output
    assert "Traceback" not in result.output
    _nothing_left(workdir)


def test_latin1_file_reads_with_the_right_encoding(workdir, cli):
    shutil.copy(CORPUS / "latin1.csv", workdir / "table.csv")
    config = write_config(workdir, BASIC_CONFIG)
    result = cli("preprocess", config, "--set", "data.encoding=latin-1")
    assert result.exit_code == 0, result.output


def test_unknown_label_at_evaluate_time(workdir, cli):
    shutil.copy(CORPUS / "good.csv", workdir / "table.csv")
    config = write_config(workdir, BASIC_CONFIG)
    assert cli("train", config, "--set", "train.sanity=false").exit_code == 0
    result = cli("evaluate", "demo-1", "--data", CORPUS / "unknown_label.csv")
    assert result.exit_code == 3, result.output
    assert "2 row(s) have a 'outcome' value that is not one of the trained classes" in result.output
    assert "unknown_label.csv:4: 'unknown'" in result.output
    assert not (workdir / "runs/demo-1/evaluations").exists()
    for name, code, needle in [
        ("text_in_number.csv", 3, "is not a number"),
        ("empty.csv", 3, "the file is empty"),
    ]:
        result = cli("predict", "demo-1", CORPUS / name, "--out", workdir / "p.csv")
        assert result.exit_code == code and needle in result.output, result.output
        assert not (workdir / "p.csv").exists()
