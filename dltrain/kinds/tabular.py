"""Tables (CSV, Parquet): one row per sample, one column per variable.

Reading and checking the table: `dltrain.data.tabular` (CSV or Parquet by `data.format`);
the fitted statistics (imputation, scaling, one-hot categories): `dltrain.data.transforms`.
A table has no file decoders: its formats are the table readers'. The model takes the
features as they are (no layers before the network): the fitted preprocessing runs
before it, in `encode`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dltrain.config.data import TabularData
from dltrain.kinds.base import DataKind, Samples


@dataclass
class TableSamples(Samples):
    """The rows of a table (`table` is the DataFrame).

    Attributes:
        source: the file, for messages (file:line).
        columns: the role of each column (`data.tabular.Columns`); None for new data.
        id_column: the column of sample ids, when the table has it. Defaults to None.
    """

    source: Path | None = None
    columns: object = None
    id_column: str | None = None


class TabularKind(DataKind):
    name = "tabular"
    config_class = TabularData

    @property
    def hash_description(self) -> str:
        from dltrain.data.audit import HASH

        return HASH

    def read(self, config) -> TableSamples:
        """Reads the table and checks the columns and rows that every split needs."""
        from dltrain.data import tabular
        from dltrain.kinds.paths import resolve

        cfg = config.data
        source = resolve(config, "data.path")
        frame = tabular.read_table(source, cfg, where=config.where("data.path"))
        columns = tabular.assign_columns(frame, cfg, config.where)
        tabular.missing_rows(frame, cfg.target, source, "target")
        if columns.group:
            tabular.missing_rows(frame, columns.group, source, "group")
        tabular.numeric_values(frame, columns.numeric, source)  # lists every bad cell now
        return self._samples(frame, source, columns, columns.id)

    def read_new(self, path: Path, config, transform) -> TableSamples:
        """The table given to `predict`, read as training read it (its format by its
        extension); every input cell is checked now (all listed), and the categories training
        never saw are counted (`info["unseen"]`)."""
        from dltrain.data import tabular

        path = Path(path)
        frame = tabular.read_table(path, config.data.model_copy(update={"format": "auto"}))
        _, unseen = transform.features(frame, path)
        present = transform.id_column if transform.id_column in frame.columns else None
        samples = self._samples(frame, path, None, present)
        samples.info["unseen"] = unseen
        return samples

    def _samples(self, frame, source: Path, columns, id_column) -> TableSamples:
        from dltrain.data import tabular

        return TableSamples(
            kind="tabular",
            table=frame,
            load=lambda idx: frame.iloc[idx],
            where=lambda i: tabular.row_where(source, i),
            files=[source],
            shape=(),
            source=source,
            columns=columns,
            id_column=id_column,
        )

    def source_sha(self, config, digests=None) -> str:
        from dltrain.data import tabular
        from dltrain.data.cache import sha256_file
        from dltrain.kinds.paths import resolve

        source = resolve(config, "data.path")
        tabular.check_table_file(source, config.data, where=config.where("data.path"))
        return digests.of([source])[0] if digests is not None else sha256_file(source)

    def sample_ids(self, samples: TableSamples):
        """The id column as text (an empty cell is ""), or the 1-based row numbers."""
        import numpy as np

        if samples.id_column is None:
            return np.arange(1, len(samples.table) + 1)
        column = samples.table[samples.id_column]
        return column.astype("string").fillna("").to_numpy()

    def group_values(self, config, samples: TableSamples):
        group = samples.columns.group
        return None if group is None else samples.table[group].astype("string").to_numpy()

    def shard_size(self, config, samples: Samples) -> int:
        return max(len(samples.table), 1)  # one shard per split

    def fit(self, config, samples: TableSamples, train, target):
        from dltrain.data.transforms import TabularTransform

        frame = samples.table.iloc[train]
        return TabularTransform.fit(
            frame, samples.columns, config.data, target.task, target.classes, samples.source
        )

    def transform_from(self, data: dict):
        from dltrain.data.transforms import TabularTransform

        return TabularTransform(**data)

    def targets(self, transform, samples: TableSamples, target):
        if target.labels is not None:  # classes as split (data.rare_classes may merge some)
            return target.y
        return transform.labels(samples.table, samples.source)

    def encode(self, transform, samples: TableSamples, raw):
        return transform.features(raw, samples.source)[0]

    def hashes(self, samples: TableSamples, raw):
        from dltrain.data.audit import row_hashes

        return row_hashes(raw, samples.columns, samples.source)

    def describe(self, config, samples: TableSamples, transform, sha: str):
        frame, columns, source = samples.table, samples.columns, samples.source
        described = {
            "path": str(source.resolve()),
            "sha256": sha,
            "bytes": source.stat().st_size,
            "rows": int(len(frame)),
        }
        missing = {
            c: int(n)
            for c, n in frame[list(columns.numeric + columns.categorical)].isna().sum().items()
            if n
        }
        schema = {
            "columns": {
                "numeric": list(columns.numeric),
                "categorical": list(columns.categorical),
                "target": columns.target,
                "group": columns.group,
                "id": columns.id,
                "split": columns.split,
            },
            "features": transform.feature_names,
            "missing_values": missing,
        }
        return described, schema, {}

    def input_spec(self, transform):
        from dltrain.models.specs import InputSpec

        return InputSpec((len(transform.feature_names),), "tabular")

    def sidecar(self, transform) -> list[str]:
        return [
            "read the table; numeric columns: fill missing values with the stored fill values "
            "(+ a 0/1 missing indicator where stored), then standardise with the stored "
            "mean and scale; categorical columns: one-hot over the stored categories "
            "(unseen: all zeros)",
            f"order the {len(transform.feature_names)} features as 'feature_names' in "
            "preprocessing.json",
            "dltrain.data.transforms.TabularTransform.load('preprocessing.json').features(frame, "
            "path) does exactly this",
        ]


TABULAR = TabularKind()
