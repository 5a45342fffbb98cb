"""What a run records about itself, as typed, frozen models, and the `Run` that reads them.

- status.json: `StatusRecord` (a `Status`, the phase, when, the process, why it ended);
- dataset.json: `DatasetRecord` (the data source, the task, the classes, the splits);
- metrics.json: `MetricsRecord` (validation and test metrics with CIs, the baselines);
- manifest.json: `RunManifest` (the checksums of the files the run depends on).

`Run` is the one reader of a run folder (evaluate, report, compare and `dltrain runs` use
it); `set_status` and `Run.write_metrics` are the writers. A file of the wrong shape is a
`RunError` (exit 4) naming it, never a KeyError deep inside a command.

The run manifest: the SHA-256 of every file a finished run depends on.

`runs/<id>/manifest.json` lists the model (`model.keras`) and the fitted preprocessing
(`preprocessing.json`) with their checksums, written right after each file. Whoever reads
such a file for a run (evaluate, predict, export, resume) checks it first: a damaged or
replaced file is a `RunError` (exit 4) naming the file, never a confusing failure deep in
Keras or a silently different model. The resume state (checkpoints and `best.keras`) has
its own manifest, `checkpoints/manifest.json` (`dltrain.training.checkpoint`).

Runs written before this manifest existed have none; their files are read unchecked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dltrain import runs
from dltrain.errors import RunError

FORMAT = 1
MANIFEST = "manifest.json"
CHUNK = 1 << 20
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class FileEntry(BaseModel):
    """One file's checksum and size."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sha256: Sha256
    bytes: Annotated[int, Field(ge=0)]


# The files a run records, relative to its folder: nothing else may be named (a manifest
# can never make dltrain read outside the run).
RECORDED = ("model.keras", "preprocessing.json", "calibration.json")
OPTIONAL = ("calibration.json",)
"""Recorded files a run may not have: the recalibration map exists only with
`evaluate.recalibrate` (dltrain.evaluation.calibration)."""


class RunManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Annotated[int, Field(ge=1, le=FORMAT)] = FORMAT
    files: dict[str, FileEntry] = {}

    def model_post_init(self, _context) -> None:
        unknown = sorted(set(self.files) - set(RECORDED))
        if unknown:
            raise ValueError(f"names file(s) it may not record: {', '.join(unknown)}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read(run_dir: Path) -> RunManifest | None:
    """The run's manifest; None when the run has none (older runs).

    Raises:
        RunError: the manifest exists but is unreadable or of the wrong shape (exit 4).
    """
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        return RunManifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        reason = _first_error(exc)
        raise RunError(
            f"{path} is damaged or not a dltrain run manifest ({reason}); restore it from a "
            "backup, or delete it to use the run's files without their checksums"
        ) from None


def record(run_dir: Path, *names: str) -> None:
    """Adds (or updates) the checksums of `names` (files in the run folder)."""
    current = read(run_dir) or RunManifest()
    files = dict(current.files)
    for name in names:
        path = Path(run_dir) / name
        try:
            files[name] = FileEntry(sha256=sha256_of(path), bytes=path.stat().st_size)
        except OSError as exc:
            raise RunError(f"cannot read {path} to record its checksum: {exc.strerror}") from None
    runs.write_json(Path(run_dir) / MANIFEST, RunManifest(files=files).model_dump(mode="json"))


def verify(run_dir: Path, name: str, *, fix: str) -> Path:
    """The path of run file `name`, after checking it against the manifest.

    Args:
        run_dir: the run folder.
        name: one of `RECORDED`.
        fix: what the user can do about a damaged file (a sentence).

    Raises:
        RunError: the file is missing, or its checksum differs from the recorded one.
    """
    path = Path(run_dir) / name
    if not path.is_file():
        raise RunError(f"{path} is missing; {fix}")
    manifest = read(run_dir)
    entry = manifest.files.get(name) if manifest is not None else None
    if entry is None:
        return path
    try:
        digest = sha256_of(path)
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror}; {fix}") from None
    if digest != entry.sha256:
        raise RunError(
            f"{path} is damaged: its SHA-256 differs from the one recorded in "
            f"{Path(run_dir) / MANIFEST} when it was written; {fix}"
        )
    return path


def is_intact(run_dir: Path, name: str) -> bool:
    if name in OPTIONAL and not (Path(run_dir) / name).exists():
        manifest = read(run_dir)
        return manifest is None or name not in manifest.files
    try:
        verify(run_dir, name, fix="")
    except RunError:
        return False
    return True


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        return f"{where}: {e['msg']}" if where else e["msg"]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def data_source(dataset) -> tuple[str, str | None]:
    """(data path, labels path) of a run as resolved when it was trained.

    Args:
        dataset: the run's `DatasetRecord`, or dataset.json as a dict.

    dataset.json keeps the paths as the run's config gave them (`source.path`,
    `source.labels`, e.g. relative to where `dltrain train` ran) and, under
    `source.resolved`, the absolute paths they named then: that is what evaluate, resume
    and compare read. Runs of earlier versions recorded only an absolute `source.path`.
    """
    if isinstance(dataset, dict):
        source = dataset.get("source") or {}
        try:
            source = SourceRecord.model_validate(source)
        except ValidationError:
            raise RunError("the run's dataset.json names no data source (source.path)") from None
    else:
        source = dataset.source
    resolved = source.resolved or {}
    path = resolved.get("path") or source.path
    labels = resolved.get("labels") if source.resolved else source.labels
    return path, labels or None


# --- status.json, dataset.json, metrics.json -----------------------------------------------


class Status(str, Enum):
    """How a run stands: running, or how it ended."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"
    PRUNED = "pruned"  # a tuning trial stopped early by the study's pruner


class _Record(BaseModel):
    """A run file's content; keys added by a later dltrain are kept, not refused."""

    model_config = ConfigDict(extra="allow", frozen=True)


class StatusRecord(_Record):
    status: Status
    phase: str | None = None
    started: str | None = None
    updated: str | None = None
    pid: int | None = None
    message: str | None = None
    stopping: dict[str, Any] | None = None  # why training stopped (training/stopping.py)


class SourceRecord(_Record):
    path: str
    sha256: str
    labels: str | None = None
    resolved: dict[str, str] | None = None


class DatasetRecord(_Record):
    kind: str
    source: SourceRecord
    task: str
    classes: list[str]
    split: dict[str, Any]
    rows: dict[str, list[int]]
    cache: str | None = None
    training_task: str | None = None
    positive_class: str | None = None
    features: list[str] = []
    input_shape: list[int] | None = None

    @property
    def fitted_task(self) -> str:
        """What the model predicts (an autoencoder reconstructs, whatever the data's task)."""
        return self.training_task or self.task


class MetricValue(_Record):
    value: float | None
    low: float | None = None
    high: float | None = None

    def shown(self) -> str:
        """ "0.912 (0.850–0.960)", "0.912" without an interval, "n/a" when undefined."""
        if self.value is None:
            return "n/a"
        if self.low is None:
            return f"{self.value:.3f}"
        return f"{self.value:.3f} ({self.low:.3f}–{self.high:.3f})"


class MetricsRecord(_Record):
    task: str
    test: dict[str, MetricValue]
    classes: list[str] = []
    positive_class: str | None = None
    threshold: float | None = None
    val: dict[str, MetricValue] = {}
    baselines: dict[str, dict[str, MetricValue]] = {}
    bootstrap: int | None = None
    confidence: float = 0.95
    stopping: dict[str, Any] | None = None  # why training stopped (training/stopping.py)


def _read(path: Path, model: type[BaseModel]):
    try:
        return model.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise RunError(f"{path} is missing; the run is incomplete") from None
    except (OSError, ValidationError, ValueError) as exc:
        raise RunError(
            f"{path} is damaged or not a dltrain run file ({_first_error(exc)}); restore it, "
            "or train the run again"
        ) from None


def set_status(run_dir: Path, status: str | Status, **extra: Any) -> None:
    """Updates status.json (atomically), keeping earlier fields such as the start time.

    The message of an earlier status (why an attempt failed or stopped) is dropped
    unless a new one is given: it no longer describes the run.
    """
    path = Path(run_dir) / "status.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    current.setdefault("started", now)
    current.pop("message", None)
    current.update(status=Status(status).value, updated=now, **extra)
    record = StatusRecord.model_validate(current)
    runs.write_json(path, record.model_dump(mode="json", exclude_unset=True))


class Run:
    """A run folder, read once per file, on demand.

    Args:
        run_dir: the run's folder (see `runs.resolve_run`).
    """

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self.id = self.dir.name

    @classmethod
    def find(cls, run_id: str) -> Run:
        """The run called `run_id` in the runs folder (a missing one lists the nearest)."""
        return cls(runs.resolve_run(run_id))

    @cached_property
    def status(self) -> StatusRecord:
        return _read(self.dir / "status.json", StatusRecord)

    @cached_property
    def dataset(self) -> DatasetRecord:
        return _read(self.dir / "dataset.json", DatasetRecord)

    @cached_property
    def metrics(self) -> MetricsRecord:
        return _read(self.dir / "metrics.json", MetricsRecord)

    @cached_property
    def config(self):
        from dltrain.config import load_config

        return load_config(self.dir / "config.yaml")

    def completed(self, doing: str) -> Run:
        """This run, if it is completed; else a `RunError` saying what `doing` needs."""
        state = self.status.status.value
        if state != Status.COMPLETED.value:
            raise RunError(
                f"run {self.id} is {state!r}, not completed; only a completed run has "
                f"{doing} (finish it with `dltrain resume {self.id}`, or pick another run)"
            )
        return self

    def verified(self, name: str) -> Path:
        """The path of `name` (model.keras, preprocessing.json), checked against the
        manifest; a damaged file names what `dltrain resume` does about it."""
        fix = (
            f"`dltrain resume {self.id}` rebuilds it from the run's checkpoints (and writes "
            "the same test results again)"
        )
        return verify(self.dir, name, fix=fix)

    def write_metrics(self, results: dict) -> None:
        """Writes metrics.json (validated: a wrong shape is a bug caught here)."""
        MetricsRecord.model_validate(results)
        runs.write_json(self.dir / "metrics.json", results)


def listed() -> list[Run]:
    """Every run in the runs folder, newest first (see `runs.run_folders`)."""
    return [Run(path) for path in runs.run_folders()]


def summary(run: Run) -> tuple[str, str, str, str]:
    """(status, started, task, headline test metric with its CI) for `dltrain runs`;
    an unreadable file shows as such rather than hiding the run."""
    try:
        status, started = run.status.status.value, run.status.started or ""
    except RunError:
        status, started = "unreadable", ""
    if not (run.dir / "metrics.json").is_file():
        return status, started, "", ""
    try:
        metrics = run.metrics
    except RunError:
        return status, started, "", "unreadable"
    from dltrain import tasks

    task = tasks.TASKS.get(metrics.task)
    value = metrics.test.get(task.headline) if task is not None else None
    shown = "" if value is None else f"{task.headline} {value.shown()}"
    return status, started, metrics.task, shown
