"""From a target column (or several) to a task, its classes and the encoded labels.

Shared by every data kind, so a binary table and a binary image folder get the
same class order, the same positive class and the same errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dltrain import tasks
from dltrain.data import tabular
from dltrain.errors import ConfigError, DataError


@dataclass(frozen=True)
class Targets:
    """Task, classes and per-sample labels.

    Attributes:
        task: binary, multiclass, multilabel, regression or reconstruction.
        classes: class names in index order (multilabel: the label columns; else empty).
        labels: class index per sample (binary/multiclass) for splitting and counting,
            or None.
        y: what the model is fitted to: class indices (int32), 0/1 label matrix (float32,
            multilabel), values (float64, regression), or None (reconstruction).
    """

    task: str
    classes: list[str]
    labels: np.ndarray | None
    y: np.ndarray | None

    @property
    def positive_class(self) -> str | None:
        return self.classes[-1] if tasks.get(self.task).chooses_threshold else None


def encode(
    table: pd.DataFrame, target, requested: str, positive: str | None, config, where_row
) -> Targets:
    """Infers the task and encodes the targets of every sample.

    Args:
        table: one row per sample with the target column(s).
        target: the column name, a list of 0/1 columns (multilabel), or None (no target).
        requested: `data.task` ("auto" to infer).
        positive: `data.positive_class`, or None.
        config: the experiment (for config locations in errors).
        where_row: sample index → location, for messages.
    """
    if target is None:
        return Targets(tasks.Reconstruction.name, [], None, None)
    if isinstance(target, list):
        return _multilabel(table, target, where_row)
    if requested == "multilabel":
        raise ConfigError(
            "data.task multilabel needs data.target to be a list of 0/1 columns, e.g. "
            f"[afib, lbbb]; received the single column {target!r}",
            where=config.where("data.target"),
        )
    column = table[target]
    task = tabular.infer_task(column, requested)
    if tasks.get(task).standardised:
        return _regression(column, target, where_row)
    return _classes(column, target, task, positive, config)


def _regression(column: pd.Series, target: str, where_row) -> Targets:
    """A numeric target: a finite number for every sample, or every bad one listed."""
    values = pd.to_numeric(column.astype("string").str.strip(), errors="coerce")
    numbers = values.to_numpy(dtype="float64", na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        why = ["is infinite" if np.isinf(numbers[i]) else "is not a number" for i in bad]
        raise DataError(
            f"the regression target {target!r} needs a finite number for every sample; fix "
            "these values, or set data.task to a classification task:",
            details=[
                f"{where_row(i)}: column {target!r}: value {tabular.plain(column.iloc[i])!r} "
                f"{reason}"
                for i, reason in zip(bad[:20], why, strict=False)
            ],
        )
    return Targets(tasks.Regression.name, [], None, values.to_numpy(dtype="float64"))


def _classes(column: pd.Series, target: str, task: str, positive, config) -> Targets:
    """Class labels in a fixed order (sorted, the positive class last), as indices."""
    text = tabular.class_labels(column)
    classes = tabular.sorted_classes(text)
    if len(classes) < 2:
        raise DataError(
            f"the target {target!r} has a single value ({classes[0]!r}); a classifier needs at "
            "least two classes"
        )
    if task == tasks.Binary.name and len(classes) != 2:
        raise DataError(
            f"data.task is binary but {target!r} has {len(classes)} classes "
            f"({', '.join(classes[:10])}); use task: multiclass"
        )
    if positive is not None:
        if positive not in classes:
            raise ConfigError(
                f"data.positive_class {positive!r} is not a class of {target!r}; the classes "
                f"are {', '.join(classes)}",
                where=config.where("data.positive_class"),
            )
        classes = [c for c in classes if c != positive] + [positive]
    index = {c: i for i, c in enumerate(classes)}
    labels = text.map(index).to_numpy(dtype="int64")
    return Targets(task, classes, labels, labels.astype("int32"))


def _multilabel(table: pd.DataFrame, columns: list[str], where_row) -> Targets:
    truthy = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "1.0": 1.0, "0.0": 0.0}
    matrix = np.zeros((len(table), len(columns)), dtype="float32")
    bad = []
    for j, name in enumerate(columns):
        text = table[name].astype("string").str.strip().str.lower()
        mapped = text.map(truthy)
        for i in np.flatnonzero(mapped.isna().to_numpy()):
            bad.append(f"{where_row(i)}: column {name!r} = {tabular.plain(table[name].iloc[i])!r}")
        matrix[:, j] = mapped.fillna(0).to_numpy(dtype="float32")
    if bad:
        raise DataError(
            f"{len(bad)} multilabel target cell(s) are not 0/1 (or true/false):",
            details=bad[:20],
        )
    return Targets("multilabel", list(columns), None, matrix)


def merge_classes(target: Targets, merged: set[int], other: str) -> Targets:
    """The classes `merged` (indices) as one class `other`: a class of that name takes them,
    else it is added after the others (`data.rare_classes: merge`)."""
    names = [c for i, c in enumerate(target.classes) if i not in merged]
    names += [] if other in names else [other]
    index = {c: i for i, c in enumerate(names)}
    new = [index[other] if i in merged else index[c] for i, c in enumerate(target.classes)]
    labels = np.asarray(new)[target.labels]
    return Targets(target.task, names, labels, labels.astype("int32"))


def drop_classes(target: Targets, dropped: set[int]) -> Targets:
    """The target without the classes `dropped` (indices); their samples' label is -1, and
    they belong to no split (`data.rare_classes: drop`)."""
    kept = [i for i in range(len(target.classes)) if i not in dropped]
    new = np.full(len(target.classes), -1)
    new[kept] = np.arange(len(kept))
    labels = new[target.labels]
    return Targets(target.task, [target.classes[i] for i in kept], labels, labels.astype("int32"))


def encode_known(table: pd.DataFrame, target, fitted: Targets, config, where_row) -> Targets:
    """Encodes the targets of data scored with an already fitted encoding (an external test
    set): the training classes in their order; a class training never saw is an error.

    Raises:
        DataError: a value that is not one of the trained classes (every one listed).
    """
    task = tasks.get(fitted.task)
    if target is None or task.reconstructs:
        return Targets(fitted.task, [], None, None)
    if isinstance(target, list):
        return _multilabel(table, target, where_row)
    if task.standardised:
        return _regression(table[target], target, where_row)
    text = tabular.class_labels(table[target])
    codes = text.map({c: i for i, c in enumerate(fitted.classes)})
    unknown = np.flatnonzero(codes.isna().to_numpy())
    if len(unknown):
        raise DataError(
            f"{len(unknown)} sample(s) of the external test set have a {target!r} value that is "
            f"not a trained class ({', '.join(fitted.classes)}); fix or remove them:",
            details=[f"{where_row(i)}: {text.iloc[i]!r}" for i in unknown[:20]],
        )
    labels = codes.to_numpy(dtype="int64")
    return Targets(fitted.task, list(fitted.classes), labels, labels.astype("int32"))
