"""Train/validation/test splits with scikit-learn's splitters.

When a group column (patient id) is given, every split method keeps each group
whole: no patient's rows are ever in two splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dltrain.config.data import ColumnSplit, GroupSplit, RandomSplit, StratifiedSplit
from dltrain.data.tabular import plain
from dltrain.data.targets import Targets, drop_classes, merge_classes
from dltrain.errors import DataError

SPLITS = ("train", "val", "test")
RARE_HINT = (
    "data.rare_classes: merge (such classes become one class, data.other_class) or drop "
    "(their rows are left out); the manifest counts them"
)


def split_rows(
    method: RandomSplit | StratifiedSplit | GroupSplit | ColumnSplit,
    *,
    n_rows: int,
    labels: np.ndarray | None,
    groups: np.ndarray | None,
    column: pd.Series | None,
    seed: int,
    where_row,
    fold: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
    """Assigns every row to train, val or test.

    Args:
        method: the configured split.
        n_rows: number of rows.
        labels: class index per row for classification (stratification), else None.
        groups: group id per row (patient), or None.
        column: the user's split column for `method: column`, else None.
        seed: random seed.
        where_row: row index → "file:line", for messages.
        fold: (index, folds) for k-fold cross-validation (`dltrain tune`): train+val are
            re-divided into `folds` folds, stratified/grouped like `method`, and fold `index`
            becomes val; test stays exactly as without folds. Defaults to None.

    Returns:
        Sorted row indices per split name.
    """
    if isinstance(method, ColumnSplit):
        parts = _from_column(method, column, where_row)
        if len(parts["val"]) == 0 and len(parts["train"]) > 0:
            parts["train"], parts["val"] = carve_val(method, parts["train"], labels, groups, seed)
    else:
        stratify = labels if not isinstance(method, RandomSplit) else None
        index = np.arange(n_rows)
        if groups is None:
            rest, test = _holdout(index, stratify, method.test, seed, "test")
            sub = stratify[rest] if stratify is not None else None
            train, val = _holdout(rest, sub, method.val / (1 - method.test), seed + 1, "val")
        else:
            rest, test = _group_holdout(index, stratify, groups, method.test, seed, "test")
            sub = stratify[rest] if stratify is not None else None
            train, val = _group_holdout(
                rest, sub, groups[rest], method.val / (1 - method.test), seed + 1, "val"
            )
        parts = {"train": train, "val": val, "test": test}
    if fold is not None:
        stratify = labels if not isinstance(method, RandomSplit) else None
        parts = {**_fold(parts, stratify, groups, fold, seed), "test": parts["test"]}
    parts = {k: np.sort(v) for k, v in parts.items()}
    for name, rows in parts.items():
        if len(rows) == 0:
            raise DataError(
                f"the {name} split is empty; give it more data (a larger fraction, or more rows)"
            )
    if groups is not None:
        check_groups_disjoint(parts, groups)
    return parts


def _holdout(index, stratify, fraction, seed, name):
    from sklearn.model_selection import train_test_split

    if stratify is not None:
        _enough_per_class(stratify, 2, name)
    try:
        return train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise DataError(
            f"cannot make the {name} split: {exc}. Use a larger {name} fraction, merge rare "
            "classes, or use split.method: random"
        ) from None


def _group_holdout(index, stratify, groups, fraction, seed, name):
    from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < 3:
        raise DataError(
            f"only {n_groups} distinct group(s) in data.group; a patient-level split needs at "
            "least 3 groups (one per split), and many more for a meaningful test"
        )
    if stratify is not None:
        n_splits = max(2, min(int(round(1 / fraction)), n_groups))
        _enough_per_class(stratify, 2, name)
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        rest, held = next(splitter.split(index, stratify, groups))
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        rest, held = next(splitter.split(index, groups=groups))
    return index[rest], index[held]


def carve_val(method: ColumnSplit, train, labels, groups, seed: int):
    """(train, val) for a column with train and test values only: `method.val_fraction` of
    the training rows become validation, stratified by class when there are labels and
    grouped (no group in both) when there are groups."""
    stratify = labels[train] if labels is not None else None
    if groups is None:
        return _holdout(train, stratify, method.val_fraction, seed + 1, "val")
    return _group_holdout(train, stratify, groups[train], method.val_fraction, seed + 1, "val")


def carved(method, column) -> bool:
    """Whether `split_rows` carved validation out of train (a column without val rows)."""
    if not isinstance(method, ColumnSplit) or column is None:
        return False
    return not (column.astype("string").str.strip() == method.val).fillna(False).any()


def _fold(parts, stratify, groups, fold: tuple[int, int], seed: int) -> dict[str, np.ndarray]:
    """Fold `index` of train+val as val, the other folds as train (test is not an input)."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    index, folds = fold
    pool = np.sort(np.concatenate([parts["train"], parts["val"]]))
    sub = stratify[pool] if stratify is not None else None
    if groups is not None and sub is not None:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    elif groups is not None:
        splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    elif sub is not None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    try:
        train, val = list(
            splitter.split(pool, sub, groups=None if groups is None else groups[pool])
        )[index]
    except ValueError as exc:
        raise DataError(
            f"cannot make {folds} cross-validation folds from the train+val rows: {exc}. "
            "Use fewer folds (tune.cv.folds) or more data"
        ) from None
    return {"train": pool[train], "val": pool[val]}


def _enough_per_class(labels: np.ndarray, needed: int, name: str) -> None:
    values, counts = np.unique(labels, return_counts=True)
    few = [(v, c) for v, c in zip(values, counts, strict=True) if c < needed]
    if few:
        listed = ", ".join(f"class index {v}: {c} row(s)" for v, c in few)
        raise DataError(
            f"too few rows to stratify the {name} split ({listed}); each class needs at least "
            f"{needed + 1} rows to appear in train, val and test. Collect more rows, or set "
            f"{RARE_HINT}"
        )


def _from_column(method: ColumnSplit, column: pd.Series, where_row) -> dict[str, np.ndarray]:
    text = column.astype("string").str.strip()
    mapping = {method.train: "train", method.val: "val", method.test: "test"}
    parts = {
        name: np.flatnonzero((text == value).fillna(False).to_numpy())
        for value, name in mapping.items()
    }
    unknown = np.flatnonzero((~text.isin(list(mapping))).fillna(True).to_numpy())
    if len(unknown):
        lines = [
            f"{where_row(i)}: column {method.column!r} has {plain(column.iloc[i])!r}"
            for i in unknown[:20]
        ]
        raise DataError(
            f"{len(unknown)} row(s) have a split value other than "
            f"{method.train!r}, {method.val!r} or {method.test!r} (set split.train/val/test to "
            "the values your column uses):",
            details=lines,
        )
    return parts


def check_groups_disjoint(parts: dict[str, np.ndarray], groups: np.ndarray) -> None:
    """Raises a `DataError` if any group (patient) has rows in two splits."""
    seen: dict[object, str] = {}
    clashes = []
    for name in SPLITS:
        for g in np.unique(groups[parts[name]]):
            if g in seen and seen[g] != name:
                clashes.append(f"group {g!r} is in both {seen[g]} and {name}")
            seen.setdefault(g, name)
    if clashes:
        raise DataError(
            f"{len(clashes)} group(s) appear in more than one split (patient-level leakage); "
            "fix the split column so each group has one split:",
            details=clashes[:20],
        )


def check_classes_present(parts: dict[str, np.ndarray], labels: np.ndarray, classes: list[str]):
    """Raises a `DataError` if a class is missing from any split."""
    problems = []
    for name in SPLITS:
        present = set(np.unique(labels[parts[name]]).tolist())
        for index, cls in enumerate(classes):
            if index not in present:
                problems.append(f"class {cls!r} has no rows in the {name} split")
    if problems:
        raise DataError(
            "every class must appear in every split, or its metrics cannot be measured; "
            f"collect more rows of the class, change the split, or set {RARE_HINT}:",
            details=problems,
        )


# --- classes too rare to be in every split: `data.rare_classes` -----------------------------

RARE_POLICIES = ("error", "merge", "drop")


@dataclass(frozen=True)
class ClassSplit:
    """A classification target's split after `data.rare_classes`.

    Attributes:
        parts: sorted row indices per split (dropped rows are in none).
        target: the target the model learns (merged classes replaced by one).
        rare: the manifest's record, "rare_classes": the policy, each merged or dropped
            class with its row count in the whole data, their total rows, and for merge
            the class they became ("into").
    """

    parts: dict[str, np.ndarray]
    target: Targets
    rare: dict


def split_classes(
    method, target: Targets, *, policy: str, other: str, fold=None, **rows
) -> ClassSplit:
    """Splits a classification target (`split_rows`) under `data.rare_classes`.

    A class is rare when it cannot be in all three splits: it has fewer than three rows,
    or a split has none of its rows. "error" refuses it (the message names the option);
    "merge" makes every rare class one class `other` (a class of that name, if there is one,
    takes them); "drop" leaves their rows out of every split. The split is then made again,
    until every class is in every split. A cross-validation fold (`fold`) keeps the classes
    decided on the configured split, so that every fold has the same classes.

    Args:
        method: the configured split.
        target: the encoded binary or multiclass target.
        policy: one of `RARE_POLICIES`.
        other: the class that merge makes.
        fold: (index, folds), see `split_rows`. Defaults to None.
        **rows: `split_rows`'s `groups`, `column`, `seed` and `where_row`.

    Raises:
        DataError: a class missing from a split (policy error, or a merged class still too
            rare), a binary target that would lose a class, fewer than two classes left.
    """
    every = np.arange(len(target.labels))
    counts = np.bincount(target.labels, minlength=len(target.classes))
    rare = {i for i, n in enumerate(counts) if n < len(SPLITS)}
    if policy == "error":
        if rare:
            few = ", ".join(f"{target.classes[i]!r}: {counts[i]} row(s)" for i in sorted(rare))
            raise DataError(
                "every class must be in train, val and test, so each needs at least "
                f"{len(SPLITS)} rows; too few: {few}. Collect more rows, or set {RARE_HINT}"
            )
        parts = _subset_split(method, every, target.labels, fold, **rows)
        check_classes_present(parts, target.labels, target.classes)
        return ClassSplit(parts, target, _rare_record(policy, other, target, set()))
    while True:
        current, keep = _without(target, rare, policy, other)
        parts = _subset_split(method, keep, current.labels, None, **rows)
        missing = _missing(parts, current)
        if not missing:
            break
        grown = rare | {i for i, name in enumerate(target.classes) if name in missing}
        if grown == rare:  # only the class the rare ones were merged into
            raise _still_rare(target, rare, other)
        rare = grown
    if fold is not None:
        parts = _subset_split(method, keep, current.labels, fold, **rows)
        check_classes_present(parts, current.labels, current.classes)
    return ClassSplit(parts, current, _rare_record(policy, other, target, rare))


def _subset_split(method, keep, labels, fold, *, groups, column, seed, where_row):
    """`split_rows` of the rows `keep` only; the parts are indices of all rows."""
    parts = split_rows(
        method,
        n_rows=len(keep),
        labels=labels[keep],
        groups=None if groups is None else groups[keep],
        column=None if column is None else column.iloc[keep],
        seed=seed,
        where_row=lambda i: where_row(int(keep[i])),
        fold=fold,
    )
    return {name: keep[part] for name, part in parts.items()}


def _without(target: Targets, rare: set[int], policy: str, other: str):
    """(the target without the classes `rare`, the rows still used)."""
    every = np.arange(len(target.labels))
    if not rare:
        return target, every
    names = [target.classes[i] for i in sorted(rare)]
    if target.task == "binary":
        raise DataError(
            f"class {names[0]!r} of the binary target cannot be put in train, val and test "
            "(too few rows or groups), and a binary task cannot merge or drop one of its two "
            "classes (data.rare_classes); collect more rows of it, or change the split"
        )
    if policy == "merge":
        merged = merge_classes(target, rare, other)
        if np.sum(merged.labels == merged.classes.index(other)) < len(SPLITS):
            raise _still_rare(target, rare, other)
        return merged, every
    changed = drop_classes(target, rare)
    if len(changed.classes) < 2:
        raise DataError(
            f"dropping the rare classes ({', '.join(names)}) leaves fewer than two classes; "
            "collect more rows, or use data.rare_classes: merge"
        )
    return changed, every[changed.labels >= 0]


def _missing(parts: dict[str, np.ndarray], target: Targets) -> set[str]:
    """The classes that have no rows in some split."""
    return {
        target.classes[i]
        for rows in parts.values()
        for i in set(range(len(target.classes))) - set(np.unique(target.labels[rows]).tolist())
    }


def _still_rare(target: Targets, rare: set[int], other: str) -> DataError:
    counts = np.bincount(target.labels, minlength=len(target.classes))
    merged = ", ".join(f"{target.classes[i]!r}: {int(counts[i])} row(s)" for i in sorted(rare))
    return DataError(
        f"the rare classes merged into {other!r} ({merged}) are still too few to be in "
        "train, val and test; collect more rows, or use data.rare_classes: drop"
    )


def _rare_record(policy: str, other: str, target: Targets, rare: set[int]) -> dict:
    counts = np.bincount(target.labels, minlength=len(target.classes))
    classes = {target.classes[i]: int(counts[i]) for i in sorted(rare)}
    record = {"policy": policy, "classes": classes, "rows": sum(classes.values())}
    return {**record, "into": other} if policy == "merge" else record
