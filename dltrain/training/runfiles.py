"""What a run writes about itself before it trains: the files that make it a run.

dataset.json (the data source as the config gave it and as this run resolved it, the
splits), preprocessing.json (the fitted statistics, checksummed), environment.json
(versions, seed), command.txt, and config.yaml last: a folder holding config.yaml is a run
that `dltrain resume` can continue.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

from dltrain import __version__, records, runs
from dltrain.config import ExperimentConfig, dump_config
from dltrain.data.cache import Processed
from dltrain.training import distribute


def write_setup(run_dir: Path, session, argv: list[str]) -> None:
    """Writes the run's setup files (config.yaml last) and its checkpoints folder."""
    config, data = session.config, session.data
    manifest = data.manifest
    rows = {name: _rows(data, name) for name in ("train", "val", "test")}
    runs.write_json(
        run_dir / "dataset.json",
        {
            "cache": str(data.path.resolve()),
            "kind": manifest["kind"],
            "source": source_record(config, manifest),
            "task": manifest["task"],
            "training_task": session.task_name,
            "classes": manifest["classes"],
            "positive_class": manifest["positive_class"],
            "features": manifest["features"],
            "input_shape": manifest.get("input_shape"),
            "split": manifest["split"],
            "rare_classes": manifest.get("rare_classes"),  # merged or dropped (data.rare_classes)
            "audit": manifest.get("audit"),  # the leakage audit, with the run (not only the cache)
            "rows": rows,
        },
    )
    data.transform.save(run_dir / "preprocessing.json")
    records.record(run_dir, "preprocessing.json")
    runs.write_json(run_dir / "environment.json", environment(config))
    runs.atomic_write_text(run_dir / "command.txt", shlex.join(argv) + "\n")
    runs.atomic_write_text(run_dir / "config.yaml", dump_config(config))
    runs.run_subdir(run_dir, "checkpoints")


def source_record(config: ExperimentConfig, manifest: dict) -> dict:
    """The run's data source: the paths as its config gave them, the absolute paths they
    named for this run (`resolved`), and the content facts of the cache (hash, size).

    The cache is shared by every run on the same data, so its own record of the path
    is whoever built it first; a run records its own.
    """
    from dltrain.kinds import paths

    source = {k: v for k, v in manifest["source"].items() if k not in ("path", "labels")}
    source["path"] = config.data.path
    if config.data.kind == "tabular":
        resolved = {"path": str(paths.resolve(config, "data.path").resolve())}
    else:
        resolved = {"path": str(paths.data_path(config).resolve())}
        labels = paths.labels_path(config)
        if labels is not None:
            source["labels"] = config.data.labels
            resolved["labels"] = str(labels.resolve())
    source["resolved"] = resolved
    return source


def _rows(data: Processed, name: str) -> list[int]:
    from dltrain.data.cache import read_shard

    return sorted(int(r) for path in data.shards(name) for r in read_shard(path).rows)


def environment(config: ExperimentConfig) -> dict:
    """Versions, git commit and seed: what is needed to reproduce the run."""
    import keras
    import pandas as pd
    import sklearn
    import tensorflow as tf

    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "dltrain": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit_learn": sklearn.__version__,
        "git_commit": commit,
        "seed": config.seed,
        "deterministic": config.train.deterministic,
        "distribute": distribute.current().describe(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }
