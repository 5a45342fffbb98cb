"""The `data:` section: where the data is, what to predict, how to split it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from dltrain.config.base import Section, tagged_union

Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]


class _FractionSplit(Section):
    val: Fraction = 0.15
    """Fraction of the samples (or groups) held out for validation. Defaults to 0.15."""
    test: Fraction = 0.15
    """Fraction of the samples (or groups) held out for the final test. Defaults to 0.15."""

    @model_validator(mode="after")
    def _leave_training_data(self):
        if self.val + self.test >= 0.9:
            raise ValueError(
                f"val + test must leave at least 10% of the data for training. "
                f"Received: val={self.val}, test={self.test}"
            )
        return self


class RandomSplit(_FractionSplit):
    """Random split of rows (of groups when `data.group` is set)."""

    method: Literal["random"] = "random"


class StratifiedSplit(_FractionSplit):
    """Split that keeps class proportions in every split (grouped when `data.group` is set)."""

    method: Literal["stratified"] = "stratified"


class GroupSplit(_FractionSplit):
    """Patient-level split: every group (`data.group`) lies in exactly one split."""

    method: Literal["group"] = "group"


class ColumnSplit(Section):
    """A split given by the user in a column of the data."""

    method: Literal["column"] = "column"
    column: str
    """Name of the column that says which split each row belongs to."""
    train: str = "train"
    """Value of the column that marks training rows. Defaults to "train"."""
    val: str = "val"
    """Value of the column that marks validation rows. Defaults to "val"."""
    test: str = "test"
    """Value of the column that marks test rows. Defaults to "test"."""


SplitConfig = tagged_union(
    "method", RandomSplit, StratifiedSplit, GroupSplit, ColumnSplit, default="stratified"
)


class MissingConfig(Section):
    """How missing values are filled (statistics fitted on the training split only)."""

    numeric: Literal["median", "mean", "zero"] = "median"
    """Fill value for a missing number. Defaults to "median"."""
    indicator: bool = True
    """Add a 0/1 column per numeric column that has missing values in training. Defaults to True."""


class TabularData(Section):
    """A table (CSV or Parquet): one row per sample, one column per variable."""

    kind: Literal["tabular"] = "tabular"
    path: str
    """The CSV or Parquet file, relative to the working directory or to the config file."""
    format: Literal["auto", "csv", "parquet"] = "auto"
    """File format; "auto" goes by the file extension. Defaults to "auto"."""
    delimiter: str = ","
    """Column separator of a CSV file. Defaults to ","."""
    encoding: str = "utf-8"
    """Text encoding of a CSV file. Defaults to "utf-8"."""
    target: str
    """The column to predict."""
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    """The prediction task; "auto" infers it from the target column. Defaults to "auto"."""
    positive_class: str | None = None
    """For binary tasks, the class that counts as positive (e.g. "malignant"). Defaults to
    the second class in sorted order."""
    group: str | None = None
    """Column identifying the patient (or other unit): all its rows go to the same split."""
    id: str | None = None
    """Column identifying each row; carried into predictions, never used as a feature."""
    features: list[str] | None = None
    """Columns used as inputs. Defaults to every column except target, group, id, split
    column and `exclude`."""
    exclude: list[str] = []
    """Columns never used as inputs."""
    categorical: list[str] = []
    """Columns to treat as categorical even if they look numeric."""
    numeric: list[str] = []
    """Columns that must be numeric: any value that is not a number is an error."""
    missing: MissingConfig = MissingConfig()
    """Missing-value handling."""
    scale: Literal["standard", "minmax", "none"] = "standard"
    """Scaling of numeric columns, fitted on training data. Defaults to "standard"."""
    split: SplitConfig = StratifiedSplit()
    """How samples are divided into train, validation and test."""
    allow_duplicates: bool = False
    """Allow samples with identical input values in different splits (they are still counted
    in the manifest's audit). Defaults to False: such samples are a data error, because the
    model would be tested on samples it was trained on."""

    @model_validator(mode="after")
    def _consistent_columns(self):
        problems = []
        roles = {"target": self.target, "group": self.group, "id": self.id}
        if isinstance(self.split, ColumnSplit):
            roles["split.column"] = self.split.column
        named = [(k, v) for k, v in roles.items() if v is not None]
        for i, (k1, v1) in enumerate(named):
            for k2, v2 in named[i + 1 :]:
                if v1 == v2:
                    problems.append(f"{k1} and {k2} are the same column {v1!r}")
        both = sorted(set(self.categorical) & set(self.numeric))
        if both:
            problems.append(f"columns listed as both categorical and numeric: {both}")
        if self.features is not None:
            for k, v in named:
                if v in self.features:
                    problems.append(f"features must not contain the {k} column {v!r}")
        if isinstance(self.split, GroupSplit) and self.group is None:
            problems.append("split.method 'group' needs data.group (the patient id column)")
        if problems:
            raise ValueError("; ".join(problems))
        return self


DataConfig = tagged_union("kind", TabularData)
