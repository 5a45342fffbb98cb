"""Reading and checking tables: every failure is a DataError or ConfigError that says where."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dltrain.config.data import TabularData
from dltrain.data import tabular
from dltrain.errors import ConfigError, DataError
from tests.conftest import REPO


def data_config(**kwargs) -> TabularData:
    return TabularData(**{"path": "table.csv", "target": "y", **kwargs})


def no_location(key: str) -> None:
    return None


def read_text(tmp_path, text: str, name: str = "table.csv", **kwargs) -> pd.DataFrame:
    path = tmp_path / name
    path.write_text(text)
    return tabular.read_table(path, data_config(**kwargs))


def raises_data_error(tmp_path, content: str | bytes, **kwargs) -> DataError:
    path = tmp_path / "table.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(DataError) as info:
        tabular.read_table(path, data_config(**kwargs))
    return info.value


# read_table


def test_csv_and_parquet_read_the_same_table(tmp_path):
    frame = pd.DataFrame({"age": [31.5, 40.0, 52.25], "sex": ["f", "m", "f"], "y": [0, 1, 1]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    cfg = data_config()
    from_csv = tabular.read_table(tmp_path / "t.csv", cfg)
    from_parquet = tabular.read_table(tmp_path / "t.parquet", cfg)
    assert list(from_csv.columns) == list(from_parquet.columns) == ["age", "sex", "y"]
    assert from_csv["age"].tolist() == from_parquet["age"].tolist() == [31.5, 40.0, 52.25]
    assert from_csv["sex"].tolist() == from_parquet["sex"].tolist() == ["f", "m", "f"]


def test_format_and_delimiter_settings_are_used(tmp_path):
    frame = read_text(tmp_path, "a;b;y\n1;2,5;x\n", name="table.txt", delimiter=";")
    assert list(frame.columns) == ["a", "b", "y"]
    assert frame["b"].tolist() == ["2,5"]
    pd.DataFrame({"a": [1], "y": [2]}).to_parquet(tmp_path / "table.bin")
    frame = tabular.read_table(tmp_path / "table.bin", data_config(format="parquet"))
    assert frame.to_dict("list") == {"a": [1], "y": [2]}


def test_missing_file_names_the_path_and_the_setting(tmp_path):
    with pytest.raises(DataError) as info:
        tabular.read_table(tmp_path / "nope.csv", data_config(), where="exp.yaml:4")
    message = str(info.value)
    assert f"data file not found: {tmp_path / 'nope.csv'}" in message
    assert "data.path (exp.yaml:4)" in message


def test_folder_is_not_a_table(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        tabular.read_table(tmp_path, data_config())


def test_empty_file(tmp_path):
    error = raises_data_error(tmp_path, "")
    assert error.message.startswith("the file is empty")
    assert error.where == str(tmp_path / "table.csv")


def test_header_without_rows(tmp_path):
    error = raises_data_error(tmp_path, "a,b,y\n")
    assert "no data rows" in error.message
    assert error.where == str(tmp_path / "table.csv")


def test_row_with_too_many_fields_gives_its_line(tmp_path):
    error = raises_data_error(tmp_path, "a,b,y\n1,2,3\n4,5,6\n7,8,9,10\n1,2,3\n")
    assert error.where == f"{tmp_path / 'table.csv'}:4"
    assert "more fields than the header" in error.message


def test_extra_field_on_every_row_is_an_error_not_a_shift(tmp_path):
    # pandas would take the extra leading field as the index and shift every column by one
    error = raises_data_error(tmp_path, "a,b,y\n1,2,3,\n4,5,6,\n")
    assert error.where == f"{tmp_path / 'table.csv'}:2"
    assert "Expected 3 fields in line 2, saw 4" in error.message


def test_wrong_encoding_points_at_data_encoding(tmp_path):
    content = "a,name,y\n1,José,0\n".encode("latin-1")
    error = raises_data_error(tmp_path, content)
    assert "not valid utf-8 text" in error.message
    assert "data.encoding" in error.message
    assert error.where == f"{tmp_path / 'table.csv'}:2"
    frame = tabular.read_table(tmp_path / "table.csv", data_config(encoding="latin-1"))
    assert frame["name"].tolist() == ["José"]


def test_latin1_corpus_file_names_the_line_of_the_bad_byte():
    corpus = REPO / "tests" / "corpus" / "latin1.csv"
    line = next(i for i, raw in enumerate(corpus.read_bytes().split(b"\n"), 1) if b"\xe9" in raw)
    assert line == 6
    with pytest.raises(DataError) as info:
        tabular.read_table(corpus, data_config(target="outcome"))
    assert info.value.where == f"{corpus}:6"
    assert "not valid utf-8 text (byte 179: b'\\xe9,he')" in info.value.message


def test_bad_byte_is_placed_across_read_chunks(tmp_path, monkeypatch):
    """A file read in 7-byte chunks, with a 2-byte character split between two of them."""
    monkeypatch.setattr(tabular, "CHUNK_BYTES", 7)
    content = "a,name,y\n1,Zoë,0\n2,Émile,1\n3,x,0\n".encode() + b"4,Ren\xe9,1\n"
    error = raises_data_error(tmp_path, content)
    assert error.where == f"{tmp_path / 'table.csv'}:5"
    assert content.index("ë".encode()) == 13  # its two bytes straddle the 14-byte boundary
    at = content.index(b"\xe9")
    assert f"(byte {at}: " + r"b'\xe9,1\n')" in error.message


def test_unknown_encoding_is_a_config_error(tmp_path):
    (tmp_path / "table.csv").write_text("a,y\n1,2\n")
    with pytest.raises(ConfigError, match="unknown text encoding 'klingon'"):
        tabular.read_table(tmp_path / "table.csv", data_config(encoding="klingon"))


def test_duplicate_header_names(tmp_path):
    error = raises_data_error(tmp_path, "a,b,a,y\n1,2,3,4\n")
    assert error.message == "column 'a' appears twice in the header; rename one of them"
    assert error.where == f"{tmp_path / 'table.csv'}:1"


def test_row_where_is_a_file_line_or_a_parquet_row(tmp_path):
    assert tabular.row_where(tmp_path / "t.csv", 0) == f"{tmp_path / 't.csv'}:2"
    assert tabular.row_where(tmp_path / "t.parquet", 0) == f"{tmp_path / 't.parquet'}, row 1"


# assign_columns


@pytest.fixture
def mixed():
    n = 25
    return pd.DataFrame(
        {
            "patient": [f"p{i}" for i in range(n)],
            "age": np.arange(n, dtype=float) + 30.5,
            "count": np.arange(n),
            "sex": ["f", "m"] * 12 + ["f"],
            "smoker": [True, False] * 12 + [True],
            "marker": [str(i / 10) for i in range(n - 1)] + ["12,5"],  # 24 of 25 numbers
            "code": [str(i % 3) for i in range(n)],
            "y": ["a", "b"] * 12 + ["a"],
        }
    )


def test_unknown_columns_are_config_errors_with_suggestions(mixed):
    cfg = data_config(target="outcom", group="pateint", exclude=["zzz"])
    with pytest.raises(ConfigError) as info:
        tabular.assign_columns(mixed, cfg, lambda key: f"exp.yaml:{len(key)}")
    error = info.value
    assert error.message == "3 configured column(s) not found in the data:"
    target, group, exclude = error.details
    assert target.startswith("exp.yaml:11: data.target: column 'outcom' is not in the data.")
    assert "Did you mean 'y'?" not in target and "Columns: patient, age, count" in target
    assert group.startswith("exp.yaml:10: data.group: column 'pateint'")
    assert "Did you mean 'patient'?" in group
    assert exclude.startswith("exp.yaml:14: data.exclude.0: column 'zzz'")
    assert "Did you mean" not in exclude


def test_unknown_target_suggests_the_close_name(mixed):
    with pytest.raises(ConfigError) as info:
        tabular.assign_columns(mixed, data_config(target="agee"), no_location)
    assert "data.target: column 'agee' is not in the data. Did you mean 'age'?" in str(info.value)


def test_numeric_and_categorical_are_inferred(mixed):
    columns = tabular.assign_columns(mixed, data_config(id="patient"), no_location)
    # "marker" has one typo in 25 values: still numeric, so the typo is reported later
    assert columns.numeric == ("age", "count", "marker", "code")
    assert columns.categorical == ("sex", "smoker")
    assert (columns.target, columns.id) == ("y", "patient")
    assert columns.group is None and columns.split is None


def test_overrides_and_exclusions(mixed):
    cfg = data_config(
        group="patient", categorical=["code"], numeric=["sex"], exclude=["count", "smoker"]
    )
    columns = tabular.assign_columns(mixed, cfg, no_location)
    assert columns.numeric == ("age", "sex", "marker")
    assert columns.categorical == ("code",)
    assert columns.group == "patient"


def test_mostly_text_column_is_categorical(mixed):
    mixed["marker"] = ["x"] * 5 + mixed["marker"].tolist()[5:]
    columns = tabular.assign_columns(mixed, data_config(id="patient"), no_location)
    assert "marker" in columns.categorical


def test_feature_list_is_kept_in_order(mixed):
    cfg = data_config(features=["sex", "age", "count"], exclude=["count"])
    columns = tabular.assign_columns(mixed, cfg, no_location)
    assert (columns.numeric, columns.categorical) == (("age",), ("sex",))


def test_no_features_left(mixed):
    frame = mixed[["patient", "y"]]
    with pytest.raises(ConfigError, match="no input columns are left") as info:
        tabular.assign_columns(frame, data_config(id="patient"), lambda key: "exp.yaml:3")
    assert info.value.where == "exp.yaml:3"


# numeric_values, missing_rows


def test_text_in_numeric_column_names_file_line_and_column(tmp_path):
    frame = pd.DataFrame(
        {"a": ["1", "12,5", "", "3", "inf"], "b": [1.0, np.inf, 2.0, np.nan, -np.inf]}
    )
    source = tmp_path / "t.csv"
    with pytest.raises(DataError) as info:
        tabular.numeric_values(frame, ("a", "b"), source)
    error = info.value
    assert error.message.startswith("4 value(s) in numeric column(s) 'a', 'b' are not finite")
    assert error.details == [
        f"{source}:3: column 'a': value '12,5' is not a number",
        f"{source}:3: column 'b': value inf is infinite",
        f"{source}:6: column 'a': value 'inf' is infinite",
        f"{source}:6: column 'b': value -inf is infinite",
    ]


def test_numeric_values_are_floats_with_missing_as_nan(tmp_path):
    frame = pd.DataFrame({"a": [" 1.5", "", None, "2"], "b": [1, 2, 3, 4]})
    values = tabular.numeric_values(frame, ("a", "b"), tmp_path / "t.csv")
    assert values["a"].dtype == np.float64 and values["b"].dtype == np.float64
    assert values["a"].tolist()[0] == 1.5 and values["a"].tolist()[3] == 2.0
    assert values["a"].isna().tolist() == [False, True, True, False]


def test_many_bad_values_are_counted_past_the_listed_ones(tmp_path):
    frame = pd.DataFrame({"a": ["x"] * 25})
    with pytest.raises(DataError) as info:
        tabular.numeric_values(frame, ("a",), tmp_path / "t.csv")
    assert len(info.value.details) == tabular.MAX_LISTED + 1
    assert info.value.details[-1] == "... and 5 more"


def test_missing_rows_lists_empty_and_blank_cells(tmp_path):
    source = tmp_path / "t.csv"
    frame = pd.DataFrame({"y": ["a", " ", None, "b", np.nan]})
    with pytest.raises(DataError) as info:
        tabular.missing_rows(frame, "y", source, "target")
    assert info.value.message.startswith("3 row(s) have no target value")
    assert info.value.details == [f"{source}:{line}: column 'y' is empty" for line in (3, 4, 6)]
    tabular.missing_rows(frame.iloc[[0, 3]], "y", source, "target")  # nothing missing: no error


# infer_task, class labels


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 1, 0], "binary"),
        ([0.0, 1.0, 1.0], "binary"),
        (["yes", "no", "no"], "binary"),
        ([True, False, True], "binary"),
        ([1, 2, 3, 2], "multiclass"),
        (["a", "b", "c"], "multiclass"),
        ([0.5, 1.0, 2.0], "regression"),
        (list(range(11)), "regression"),
        (list(range(10)), "multiclass"),
    ],
)
def test_infer_task(values, task):
    assert tabular.infer_task(pd.Series(values), "auto") == task


def test_stated_task_wins():
    assert tabular.infer_task(pd.Series([0, 1, 0]), "regression") == "regression"
    assert tabular.infer_task(pd.Series([0.5, 1.5]), "multiclass") == "multiclass"


def test_class_labels_are_clean_strings():
    assert tabular.class_labels(pd.Series([1.0, 0.0, 1.0])).tolist() == ["1", "0", "1"]
    assert tabular.class_labels(pd.Series([" sick", "healthy "])).tolist() == ["sick", "healthy"]
    assert tabular.class_labels(pd.Series([0.5, 1.0])).tolist() == ["0.5", "1.0"]
    with_missing = tabular.class_labels(pd.Series([2.0, np.nan]))
    assert with_missing.iloc[0] == "2" and with_missing.isna().tolist() == [False, True]


def test_sorted_classes_numeric_then_alphabetical():
    assert tabular.sorted_classes(pd.Series(["10", "2", "1", "2"])) == ["1", "2", "10"]
    assert tabular.sorted_classes(pd.Series(["b", "10", "a", None])) == ["10", "a", "b"]
