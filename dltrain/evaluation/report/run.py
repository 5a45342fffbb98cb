"""The files of a run folder as the report reads them (`_Run`), once each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dltrain import records, runs, tasks
from dltrain.errors import RunError


def _optional_json(path: Path) -> Any:
    return runs.read_json(path) if path.is_file() else None


def _optional_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None


class _Run:
    """The files of a run folder, read once; optional ones are None when absent."""

    def __init__(self, run_dir: Path):
        run = records.Run(run_dir)
        self.dir = run_dir
        self.id = run.id
        self.metrics: dict = run.metrics.model_dump(mode="json", exclude_unset=True)
        self.task: str = run.metrics.task
        if self.task not in tasks.TASKS:
            raise RunError(
                f"{run_dir / 'metrics.json'} names no known task ({self.task!r}); the file is "
                "damaged or not from dltrain"
            )
        self.status: dict = (
            run.status.model_dump(mode="json", exclude_unset=True)
            if (run_dir / "status.json").is_file()
            else {}
        )
        self.dataset: dict | None = (
            run.dataset.model_dump(mode="json", exclude_unset=True)
            if (run_dir / "dataset.json").is_file()
            else None
        )
        self.environment: dict | None = _optional_json(run_dir / "environment.json")
        self.sanity: dict | None = _optional_json(run_dir / "sanity.json")
        self.config: str | None = _optional_text(run_dir / "config.yaml")
        self.command: str | None = _optional_text(run_dir / "command.txt")
        self.manifest: dict | None = None
        cache = (self.dataset or {}).get("cache")
        if cache and (Path(cache) / "manifest.json").is_file():
            try:
                self.manifest = json.loads((Path(cache) / "manifest.json").read_text())
            except (OSError, ValueError):
                self.manifest = None  # the cache is an extra; the run folder is the record

    @property
    def settings(self) -> dict:
        """The resolved config as a mapping (empty when config.yaml is missing)."""
        import yaml

        try:
            loaded = yaml.safe_load(self.config or "") or {}
        except yaml.YAMLError:
            return {}
        return loaded if isinstance(loaded, dict) else {}

    @property
    def unit(self) -> str:
        """The target's unit (`data.unit`), with a leading space; "" when not given."""
        unit = (self.settings.get("data") or {}).get("unit")
        return f" {unit}" if unit else ""

    @property
    def stopping(self) -> dict | None:
        """Why training stopped (metrics.json, else status.json); None for older runs."""
        return self.metrics.get("stopping") or self.status.get("stopping")

    @property
    def audit(self) -> dict | None:
        """The leakage audit: dataset.json's, else the cached manifest's."""
        return (self.dataset or {}).get("audit") or (self.manifest or {}).get("audit")
