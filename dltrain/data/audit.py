"""The leakage audit of a split: what `preprocess` checked, recorded in the manifest.

`leakage_audit` is run once the rows are split. It refuses identical samples in
two splits (unless `data.allow_duplicates` is set), counts repeated samples
within a split, records that groups and classes were checked, and warns about
a strongly imbalanced training split. It never prints: warnings are returned in
the audit for the CLI to show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dltrain.data.splits import SPLITS
from dltrain.data.tabular import MAX_LISTED, Columns, numeric_values
from dltrain.data.transforms import MISSING_CATEGORY
from dltrain.errors import DataError

MIN_CLASS_SHARE = 0.20  # of a balanced split's share (1/C): smaller is "strong imbalance"
MAX_CLASS_RATIO = 9.0  # majority / minority
HASH = (
    "pandas.util.hash_pandas_object (64 bit) of each row's input columns as read: numbers "
    f"as float64, categories as stripped text, empty categories as {MISSING_CATEGORY!r}"
)


def leakage_audit(
    hashes: np.ndarray,
    parts: dict[str, np.ndarray],
    *,
    where_row,
    hash_description: str,
    group_column: str | None,
    labels: np.ndarray | None,
    classes: list[str],
    groups: np.ndarray | None,
    test_sha256: str,
    allow_duplicates: bool = False,
) -> dict:
    """Audits a split for leakage and imbalance; the result goes into `manifest["audit"]`.

    Args:
        hashes: one content hash per sample of its inputs as read (`row_hashes` for tables).
        parts: row indices (0-based) of each split.
        where_row: sample index → "file:line" (or file name), for messages.
        hash_description: how `hashes` were computed, recorded in the audit.
        group_column: name of the group column, or None.
        labels: class index per row, or None for regression.
        classes: class names in index order (empty for regression).
        groups: group (patient) per row, or None.
        test_sha256: the test split's content hash, referenced in the audit.
        allow_duplicates: record identical samples in different splits instead of
            refusing them. Defaults to False.

    Returns:
        {"groups", "classes", "duplicates", "imbalance", "test_sha256", "warnings"}.

    Raises:
        DataError: identical samples are in two splits and `allow_duplicates` is False.

    Example:
        >>> audit = leakage_audit(row_hashes(frame, columns, path), parts,
        ...                       where_row=lambda i: row_where(path, i), hash_description=HASH,
        ...                       group_column=None, labels=y, classes=["no", "yes"],
        ...                       groups=None, test_sha256=sha)
        >>> audit["duplicates"]["across_splits"]["inputs"]
        0
    """
    duplicates = _duplicates(hashes, parts, where_row, hash_description, allow_duplicates)
    imbalance = _imbalance(labels, classes, parts["train"]) if labels is not None else None
    return {
        "groups": None
        if groups is None
        else {
            "column": group_column,
            "checked": True,
            "in_several_splits": _groups_in_several_splits(parts, groups),
        },
        "classes": None
        if labels is None
        else {"checked": True, "missing_from_a_split": _missing_classes(parts, labels, classes)},
        "duplicates": duplicates,
        "imbalance": imbalance,
        "test_sha256": test_sha256,
        "warnings": _warnings(duplicates, imbalance),
    }


def _warnings(duplicates: dict, imbalance: dict | None) -> list[str]:
    """The audit's warnings: duplicates across splits (only when allowed), strong imbalance."""
    warnings: list[str] = []
    across = duplicates["across_splits"]
    if across["inputs"]:  # only reached when allowed
        warnings.append(
            f"{across['inputs']} input(s) occur in more than one split "
            f"({_by_split(across['rows_by_split'])}); allowed by data.allow_duplicates, so "
            "test metrics may be optimistic"
        )
    if imbalance is not None and imbalance["strong"]:
        warnings.append(
            f"class {imbalance['minority_class']!r} is {imbalance['minority_share']:.1%} of the "
            f"training split ({imbalance['ratio']:g} {imbalance['majority_class']!r} rows per "
            f"{imbalance['minority_class']!r} row); accuracy is misleading here: read balanced "
            "accuracy, sensitivity and PR-AUC, and consider train.class_weight: balanced"
        )
    return warnings


def row_hashes(frame: pd.DataFrame, columns: Columns, source: Path) -> np.ndarray:
    """One 64-bit hash per row of its input values as read (before anything is fitted)."""
    canonical = numeric_values(frame, columns.numeric, source)
    for name in columns.categorical:
        text = frame[name].astype("string").str.strip()
        canonical[name] = text.fillna(MISSING_CATEGORY).replace("", MISSING_CATEGORY).astype(str)
    canonical = canonical[list(columns.numeric) + list(columns.categorical)]
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy()


def _duplicates(hashes, parts, where_row, description: str, allowed: bool) -> dict:
    split_of = np.full(len(hashes), -1)
    for i, name in enumerate(SPLITS):
        split_of[parts[name]] = i
    assigned = np.flatnonzero(split_of >= 0)
    n_splits = (
        pd.DataFrame({"hash": hashes[assigned], "split": split_of[assigned]})
        .groupby("hash")["split"]
        .transform("nunique")
        .to_numpy()
    )
    shared = assigned[n_splits > 1]  # rows whose input also occurs in another split
    first_seen = pd.unique(hashes[shared])
    examples = []
    for value in first_seen[:MAX_LISTED]:
        rows = shared[hashes[shared] == value]
        a = rows[0]
        b = rows[split_of[rows] != split_of[a]][0]
        examples.append(
            f"{where_row(a)} ({SPLITS[split_of[a]]}) = {where_row(b)} ({SPLITS[split_of[b]]})"
        )
    rows_by_split = {
        name: int(np.count_nonzero(split_of[shared] == i)) for i, name in enumerate(SPLITS)
    }
    if len(first_seen) and not allowed:
        more = (
            [f"... and {len(first_seen) - MAX_LISTED} more"] if len(first_seen) > MAX_LISTED else []
        )
        raise DataError(
            f"{len(first_seen)} input(s) occur in more than one split "
            f"({_by_split(rows_by_split)}): the model would be tested on samples it was trained "
            "or tuned on. Remove the duplicate rows, or set data.allow_duplicates: true if they "
            "are separate samples that happen to have equal values (likely with few input "
            "columns). Identical inputs:",
            details=examples + more,
        )
    return {
        "hash": description,
        "across_splits": {
            "inputs": int(len(first_seen)),
            "rows_by_split": rows_by_split,
            "allowed": allowed,
            "examples": examples,
        },
        "within_split": {
            name: int(len(parts[name]) - len(np.unique(hashes[parts[name]]))) for name in SPLITS
        },
    }


def _by_split(rows_by_split: dict[str, int]) -> str:
    return ", ".join(f"{n} {name} row(s)" for name, n in rows_by_split.items() if n)


def _imbalance(labels: np.ndarray, classes: list[str], train: np.ndarray) -> dict:
    counts = np.bincount(labels[train], minlength=len(classes))
    low, high = int(np.argmin(counts)), int(np.argmax(counts))
    share = counts[low] / counts.sum()
    ratio = round(float(counts[high] / counts[low]), 2) if counts[low] else None
    return {
        "split": "train",
        "minority_class": classes[low],
        "minority_share": round(float(share), 4),
        "majority_class": classes[high],
        "ratio": ratio,
        "strong": bool(
            share < MIN_CLASS_SHARE / len(classes) or ratio is None or ratio > MAX_CLASS_RATIO
        ),
    }


def _groups_in_several_splits(parts: dict[str, np.ndarray], groups: np.ndarray) -> int:
    seen = [set(np.unique(groups[parts[name]]).tolist()) for name in SPLITS]
    return len((seen[0] & seen[1]) | (seen[0] & seen[2]) | (seen[1] & seen[2]))


def _missing_classes(parts: dict[str, np.ndarray], labels: np.ndarray, classes: list[str]) -> int:
    return sum(
        len(classes) - len(np.unique(labels[parts[name]])) for name in SPLITS if len(parts[name])
    )
