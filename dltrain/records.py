"""What a run records about itself: the checksums of its files, and its data source.

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

import hashlib
from pathlib import Path
from typing import Annotated

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
RECORDED = ("model.keras", "preprocessing.json")


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


def data_source(dataset: dict) -> tuple[str, str | None]:
    """(data path, labels path) of a run as resolved when it was trained.

    dataset.json keeps the paths as the run's config gave them (`source.path`,
    `source.labels`, e.g. relative to where `dltrain train` ran) and, under
    `source.resolved`, the absolute paths they named then: that is what evaluate, resume
    and compare read. Runs of earlier versions recorded only an absolute `source.path`.
    """
    source = dataset.get("source") or {}
    resolved = source.get("resolved") or {}
    path = resolved.get("path") or source.get("path")
    labels = resolved.get("labels") if resolved else source.get("labels")
    if not isinstance(path, str) or not path:
        raise RunError("the run's dataset.json names no data source (source.path)")
    return path, labels if isinstance(labels, str) and labels else None
