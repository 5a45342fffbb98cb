"""The `DataKind` interface, and `Samples`: what a kind's reader gives the rest of dltrain.

A data kind owns everything that depends on what the data is (a table, images, signals,
text, volumes): its config section, reading and checking the data (for training and,
through the same decoders and the same fitting, for `predict`), the statistics fitted on
the training split, the model's input spec, the layers placed before the network, and the
export sidecar's instructions. The dataset builder (`dltrain.data.builder`), training,
evaluation and export ask the kind and never branch on `data.kind` themselves.

This module imports neither NumPy, pandas nor TensorFlow: the registry that holds the kinds
(`dltrain.kinds`) is imported by light commands too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

NEW_DATA_FIX = "give predict a file or a folder of files"


@dataclass
class Samples:
    """Every sample of a dataset, checked, with lazy access to its inputs.

    Attributes:
        kind: the data kind's name.
        table: one row per sample, in a fixed order. File kinds: column "id" (str, unique
            in training data), the target column(s) as read (none without a target), the
            group column and the split column when configured. Tabular: the table itself.
        load: indices (np.ndarray of int) → the raw inputs of those samples: images uint8
            (k, height, width, channels) resized to the fitted size; signals float32
            (k, length, channels) brought to the fitted length; text an object array of
            str (k,); volumes float32 (k, depth, height, width, channels); tabular the
            rows of the table (a DataFrame).
        where: index → where the sample comes from, for messages ("data/x/a/1.png",
            "labels.csv:12", "signals.npy[41]").
        files: every source file, for the cache fingerprint (sorted).
        shape: shape of one raw sample, e.g. (64, 64, 1); () for text and tabular.
        info: facts for the manifest (format, channels, original lengths, ...).
    """

    kind: str
    table: Any
    load: Callable[[Any], Any]
    where: Callable[[int], str]
    files: list[Path]
    shape: tuple[int, ...]
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.table)


class DataKind:
    """One kind of data, registered in `dltrain.kinds.KINDS` under `name`.

    Subclasses set the class attributes and implement the methods that raise
    `NotImplementedError`; heavy imports (NumPy, pandas, Pillow, Keras) go inside the
    methods, so that the registry stays cheap to import.

    Attributes:
        name: the `data.kind` tag, e.g. "images".
        config_class: the Pydantic class of the `data:` section (in `dltrain.config.data`:
            the schema stays there so that `--help` never imports a reader).
        decoder_package: the package whose modules are the kind's per-format decoders
            (see `dltrain.kinds.decoders`), or None for a kind without file decoders.
        hash_description: how the leakage audit's per-sample hashes are computed
            (recorded in the manifest).
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    decoder_package: ClassVar[str | None] = None
    hash_description: ClassVar[str] = ""

    @property
    def decoders(self) -> tuple:
        """The kind's decoders, one per file format, in their documented order."""
        from dltrain.kinds.decoders import Decoders, discover

        if self.decoder_package is None:
            return Decoders(())
        return discover(self.decoder_package)

    # --- reading ---------------------------------------------------------------------

    def read(self, config) -> Samples:
        """Finds and checks every sample of the configured data (training, `evaluate`).

        Raises:
            DataError: missing, unreadable or invalid files, rows or labels, all listed.
            ConfigError: a configured column is not in the data, or the layout cannot
                hold what the config asks for.
        """
        raise NotImplementedError

    def read_new(self, path: Path, config, transform) -> Samples:
        """Reads new data for `predict`: the same decoders and the same checks as `read`,
        unlabelled, brought to the run's fitted shape (`transform`).

        Args:
            path: the file or folder given to `dltrain predict`.
            config: the run's resolved config (`ExperimentConfig`).
            transform: the run's fitted preprocessing.

        Raises:
            DataError: the input is missing, not a regular file, unreadable, or does not
                fit the model.
        """
        from dltrain.data import inputfiles
        from dltrain.errors import DataError

        path = Path(path)
        if not path.exists():
            raise DataError(f"input not found: {path}")
        if not path.is_dir():
            inputfiles.check(path, fix=NEW_DATA_FIX)
        return self._read_new(path, config, transform)

    def _read_new(self, path: Path, config, transform) -> Samples:
        raise NotImplementedError

    def source_sha(self, config, digests=None) -> str:
        """SHA-256 of the configured source data, read before anything is decoded (the
        cache fingerprint); its checks are those of `read`. With `digests` (a
        `statcache.Digests`) unchanged files are not read again; without, every file is."""
        import hashlib

        from dltrain.data.cache import sha256_files
        from dltrain.kinds.paths import external_paths, source_files

        sha = sha256_files(source_files(config), digests)
        extra = []
        if getattr(config.data, "external", None) is not None:
            path, labels = external_paths(config)
            found = source_files(config, path, labels)
            extra.append("external:" + sha256_files(found, digests))
        if self.header_group(config):  # pseudonyms in the shards: a new key, a new cache
            from dltrain.kinds.pseudonyms import key_id

            extra.append("key:" + (key_id() if config.data.pseudonymise else "raw"))
        if not extra:
            return sha
        return hashlib.sha256("\n".join([sha, *extra]).encode()).hexdigest()

    def header_group(self, config) -> str | None:
        """The header field `data.group` names for this kind's formats, or None."""
        from dltrain.kinds.clinical import header_group

        if self.decoder_package is None:
            return None
        return header_group(config, self.decoders)

    def external_config(self, config, transform):
        """The config that reads the external test set (`data.external`): its path and
        labels, no split, and the options that fix the fitted shape (`fitted_options`)."""
        from dltrain.config.data import RandomSplit
        from dltrain.kinds.paths import external_paths

        path, labels = external_paths(config)
        update = {"path": str(path), "split": RandomSplit(), "external": None}
        if "labels" in type(config.data).model_fields:
            update["labels"] = str(labels) if labels is not None else None
        update.update(self.fitted_options(transform))
        return config.model_copy(update={"data": config.data.model_copy(update=update)})

    def fitted_options(self, transform) -> dict:
        """`data:` options that make new data read at the fitted shape (e.g. a length)."""
        return {}

    def sample_ids(self, samples: Samples):
        """The id of every sample (np.ndarray), as predictions show it."""
        return samples.table["id"].to_numpy().astype(str)

    def group_values(self, config, samples: Samples):
        """The group (patient) of every sample, or None without `data.group`."""
        group = config.data.group
        if group is None:
            return None
        return samples.table[group].astype("string").to_numpy().astype(str)

    # --- fitted statistics and model inputs --------------------------------------------

    def fit(self, config, samples: Samples, train, target):
        """The statistics fitted on the training samples `train` (saved as
        preprocessing.json), for the encoded targets `target` (`data.targets.Targets`)."""
        raise NotImplementedError

    def transform_from(self, data: dict):
        """The fitted statistics from the dict that preprocessing.json holds."""
        raise NotImplementedError

    def targets(self, transform, samples: Samples, target):
        """What the model is fitted to, for every sample, or None (no target)."""
        raise NotImplementedError

    def encode(self, transform, samples: Samples, raw):
        """Raw samples (as `Samples.load` gives them) → what the cache stores as `x`."""
        raise NotImplementedError

    def inputs(self, transform, samples: Samples, raw):
        """Raw samples → the model's input array (what `encode` stores, as the model's dtype)."""
        import numpy as np

        x = self.encode(transform, samples, raw)
        return x.astype("float32") if x.dtype == np.uint8 else x

    def hashes(self, samples: Samples, raw):
        """One 64-bit content hash (uint64) per raw sample, for the leakage audit."""
        raise NotImplementedError

    def describe(self, config, samples: Samples, transform, sha: str) -> tuple[dict, dict, dict]:
        """The manifest's kind-specific parts: (source, schema, tail).

        `source` is the manifest's "source"; `schema` comes after "positive_class"
        (columns, features, input shape); `tail` comes last (e.g. the reader's info).
        """
        raise NotImplementedError

    def shard_size(self, config, samples: Samples) -> int:
        """Samples per cache shard."""
        return int(config.data.shard_size)

    # --- the model and its export ------------------------------------------------------

    def input_spec(self, transform):
        """What the architecture receives (`dltrain.models.InputSpec`)."""
        raise NotImplementedError

    def layers(self, transform, data, seed: int) -> list:
        """The Keras layers placed before the network, in order (augmentation, seeded and
        active only in training, and normalisation with the fitted statistics), so that
        the saved model carries them; [] when the network takes the inputs as they are.

        Args:
            transform: the fitted statistics.
            data: the config's `data:` section (its `augment` list, where the kind has one).
            seed: the experiment's seed.
        """
        return []

    def sidecar(self, transform) -> list[str]:
        """What a caller of an exported model must do to raw data before the model, as
        `dltrain predict` does it (the export's README and export.json)."""
        raise NotImplementedError
