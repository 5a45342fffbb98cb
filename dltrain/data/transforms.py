"""Tabular preprocessing fitted on the training split only, stored as plain JSON.

Numeric columns: missing values filled (median/mean/zero) with an optional
0/1 indicator, then scaled. Categorical columns: one-hot over the categories
seen in training (an unseen category becomes all zeros). Targets: class
indices in a fixed order, or a standardised number for regression.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dltrain import tasks
from dltrain.config.data import TabularData
from dltrain.data.tabular import (
    MAX_LISTED,
    Columns,
    class_labels,
    numeric_values,
    plain,
    row_where,
)
from dltrain.errors import DataError, RunError

MISSING_CATEGORY = "(missing)"
FORMAT = 1


@dataclass
class TabularTransform:
    """The fitted statistics of a tabular dataset; `fit` uses training rows only."""

    task: str
    numeric: list[str]
    categorical: list[str]
    target: str
    id_column: str | None = None
    fill: dict[str, float] = field(default_factory=dict)
    indicator: list[str] = field(default_factory=list)
    center: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    target_mean: float = 0.0
    target_std: float = 1.0
    format: int = FORMAT

    @classmethod
    def fit(
        cls,
        train: pd.DataFrame,
        columns: Columns,
        cfg: TabularData,
        task: str,
        classes: list[str],
        source: Path,
    ) -> TabularTransform:
        """Fits fill values, scaling and categories on the training rows."""
        t = cls(
            task=task,
            numeric=list(columns.numeric),
            categorical=list(columns.categorical),
            target=columns.target,
            id_column=columns.id,
            classes=list(classes),
        )
        values = numeric_values(train, columns.numeric, source)
        for name in columns.numeric:
            col = values[name]
            present = col.dropna()
            if cfg.missing.numeric == "zero" or present.empty:
                fill = 0.0
            elif cfg.missing.numeric == "mean":
                fill = float(present.mean())
            else:
                fill = float(present.median())
            t.fill[name] = fill
            if cfg.missing.indicator and col.isna().any():
                t.indicator.append(name)
            filled = col.fillna(fill)
            if cfg.scale == "standard":
                center, scale = float(filled.mean()), float(filled.std(ddof=0))
            elif cfg.scale == "minmax":
                center, scale = float(filled.min()), float(filled.max() - filled.min())
            else:
                center, scale = 0.0, 1.0
            t.center[name] = center
            t.scale[name] = scale if scale > 0 else 1.0
        for name in columns.categorical:
            t.categories[name] = sorted(set(_category_text(train[name]).tolist()))
        if tasks.get(task).standardised:
            y = pd.to_numeric(train[columns.target], errors="coerce").to_numpy(dtype="float64")
            t.target_mean = float(np.mean(y))
            t.target_std = float(np.std(y)) or 1.0
        return t

    @property
    def feature_names(self) -> list[str]:
        names = list(self.numeric) + [f"{n}_missing" for n in self.indicator]
        for name in self.categorical:
            names += [f"{name}={c}" for c in self.categories[name]]
        return names

    def features(self, frame: pd.DataFrame, source: Path) -> tuple[np.ndarray, dict[str, int]]:
        """The model's input matrix (float32) and the count of unseen categories per column."""
        missing = [c for c in self.numeric + self.categorical if c not in frame.columns]
        if missing:
            raise DataError(
                f"the data lacks column(s) the model was trained on: {', '.join(missing)}; "
                "every input column of the training data must be present",
                where=str(source),
            )
        parts = []
        values = numeric_values(frame, tuple(self.numeric), source)
        for name in self.numeric:
            col = values[name].fillna(self.fill[name]).to_numpy(dtype="float64")
            parts.append(((col - self.center[name]) / self.scale[name])[:, None])
        for name in self.indicator:
            parts.append(values[name].isna().to_numpy(dtype="float64")[:, None])
        unseen: dict[str, int] = {}
        for name in self.categorical:
            text = _category_text(frame[name])
            known = self.categories[name]
            onehot = text.to_numpy()[:, None] == np.asarray(known, dtype=object)[None, :]
            n_unseen = int((~text.isin(known)).sum())
            if n_unseen:
                unseen[name] = n_unseen
            parts.append(onehot.astype("float64"))
        x = np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0))
        return x.astype("float32"), unseen

    def labels(self, frame: pd.DataFrame, source: Path) -> np.ndarray:
        """Target as class indices (int32) or standardised values (float32)."""
        column = frame[self.target]
        if tasks.get(self.task).standardised:
            text = column.astype("string").str.strip()
            y = pd.to_numeric(text, errors="coerce")
            bad = np.flatnonzero((y.isna() | np.isinf(y.astype("float64"))).to_numpy())
            if len(bad):
                raise DataError(
                    f"{len(bad)} target value(s) are not finite numbers (regression needs one "
                    "per row):",
                    details=[
                        f"{row_where(source, i)}: {self.target!r} = {plain(column.iloc[i])!r}"
                        for i in bad[:MAX_LISTED]
                    ],
                )
            values = y.to_numpy(dtype="float64")
            return ((values - self.target_mean) / self.target_std).astype("float32")
        text = class_labels(column)
        index = {c: i for i, c in enumerate(self.classes)}
        codes = text.map(index)
        unknown = np.flatnonzero(codes.isna().to_numpy())
        if len(unknown):
            raise DataError(
                f"{len(unknown)} row(s) have a {self.target!r} value that is not one of the "
                f"trained classes ({', '.join(self.classes)}):",
                details=[
                    f"{row_where(source, i)}: {plain(column.iloc[i])!r}"
                    for i in unknown[:MAX_LISTED]
                ],
            )
        return codes.to_numpy(dtype="int32")

    def target_values(self, y_scaled: np.ndarray) -> np.ndarray:
        """Regression outputs back in the target's own units."""
        return y_scaled * self.target_std + self.target_mean

    def save(self, path: Path) -> None:
        from dltrain.runs import atomic_write_text

        atomic_write_text(path, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> TabularTransform:
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise RunError(f"cannot read the fitted preprocessing {path}: {exc}") from None


def _category_text(column: pd.Series) -> pd.Series:
    text = column.astype("string").str.strip()
    return text.fillna(MISSING_CATEGORY).replace("", MISSING_CATEGORY).astype(object)
