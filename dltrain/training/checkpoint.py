"""Resume checkpoints: the complete training state, written so that a crash cannot spoil it.

A checkpoint `checkpoints/state-EEEEEE-SSSSSS.npz` (epoch, steps done in it) holds
every variable that training changes — weights, batch-norm statistics, dropout
seed-generator states, optimiser slots and step count, metric accumulators — and
the loop's own state (history so far, early-stopping counters, best value) as
JSON. It is written to a temporary file, fsynced and renamed; then
`checkpoints/manifest.json`, which lists the checkpoints with their SHA-256 and the
SHA-256 of `checkpoints/best.keras` (the best epoch's model), is replaced the same way.
A kill at any moment therefore leaves either the old manifest (the new file is ignored)
or the new one, never a half checkpoint that is trusted.

On resume, the newest checkpoint that is intact is used; a damaged one is skipped with
a warning naming it. `best.keras` must be intact too: the checkpoint written right after
the best epoch holds exactly the best model's weights and is never rotated away, so a
damaged, missing or stale `best.keras` is rebuilt from it. A state whose best model can
be neither checked nor rebuilt is skipped for an earlier one. A missing manifest is
not a silent restart: the checkpoints on disk are checked by their own zip checksums
(with a warning). A manifest of the wrong shape is an error (exit 4), and it can only
ever name files inside `checkpoints/`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dltrain import runs
from dltrain.errors import RunError

FORMAT = 2  # 2: the best model's checksum ("best"); 1 had checkpoints only
KEEP = 3
BEST = "best.keras"
STATE_FILE = re.compile(r"^state-(\d{6})-(\d{6})\.npz$")
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entry(_Frozen):
    """One resume checkpoint: `checkpoints/<file>`."""

    file: Annotated[str, Field(pattern=STATE_FILE.pattern)]
    sha256: Sha256 | None  # None only for checkpoints found without a manifest
    bytes: Count
    epoch: Count
    step: Count


class BestEntry(_Frozen):
    """`checkpoints/best.keras`: the model of epoch `epoch` (0-based), the best so far."""

    sha256: Sha256
    bytes: Count
    epoch: Count


class Manifest(_Frozen):
    format: Annotated[int, Field(ge=1, le=FORMAT)] = FORMAT
    checkpoints: list[Entry] = []
    best: BestEntry | None = None


def state_variables(model) -> list:
    """Every variable whose value training changes, in a fixed order."""
    variables = list(model.variables) + list(model.optimizer.variables)
    for metric in model.metrics:
        variables += list(metric.variables)
    return variables


@dataclass(frozen=True)
class Restored:
    meta: dict
    file: Path
    skipped: list[str]  # warnings: checkpoints (or best.keras) that could not be used


def folder_of(run_dir: Path) -> Path:
    return runs.run_subdir(run_dir, "checkpoints")


def _manifest_path(run_dir: Path) -> Path:
    return folder_of(run_dir) / "manifest.json"


def read_manifest(run_dir: Path) -> Manifest | None:
    """The checkpoint manifest; None when there is none.

    Raises:
        RunError: it exists but is unreadable or not of the expected shape (exit 4).
    """
    path = _manifest_path(run_dir)
    if not path.exists():
        return None
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            e = exc.errors()[0]
            reason = f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}"
        else:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunError(
            f"{path} is damaged or not a dltrain checkpoint manifest ({reason}). Delete it "
            f"and run `dltrain resume {Path(run_dir).name}` again: the checkpoints are then "
            "checked by their own zip checksums"
        ) from None


def last_good(run_dir: Path) -> str | None:
    with contextlib.suppress(RunError):
        manifest = read_manifest(run_dir)
        if manifest is not None and manifest.checkpoints:
            return str(folder_of(run_dir) / manifest.checkpoints[-1].file)
    return None


def _write_manifest(run_dir: Path, manifest: Manifest) -> None:
    runs.write_json(_manifest_path(run_dir), manifest.model_dump(mode="json"))


def save(run_dir: Path, model, meta: dict) -> Path:
    """Writes one checkpoint and records it in the manifest (both atomically).

    `checkpoints/best.keras` must already hold the model of `meta["best_epoch"]`: its
    checksum is recorded with the checkpoint.
    """
    folder = folder_of(run_dir)
    name = f"state-{meta['epoch']:06d}-{meta['step']:06d}.npz"
    values = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(state_variables(model))}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **values)
    data = buffer.getvalue()
    try:
        runs.atomic_write_bytes(folder / name, data)
        manifest = read_manifest(run_dir) or Manifest()
        entries = [e for e in manifest.checkpoints if e.file != name]
        entries.append(
            Entry(
                file=name,
                sha256=hashlib.sha256(data).hexdigest(),
                bytes=len(data),
                epoch=meta["epoch"],
                step=meta["step"],
            )
        )
        best = _best_entry(run_dir, manifest.best, meta.get("best_epoch"))
        keep = _kept(entries, best)
        dropped = [e for e in entries if e not in keep]
        _write_manifest(run_dir, Manifest(checkpoints=keep, best=best))
    except RunError as exc:
        good = last_good(run_dir)
        raise RunError(
            f"could not write checkpoint {folder / name} ({exc.message}); is the disk full? "
            + (f"The last good checkpoint is {good}; " if good else "No checkpoint was saved; ")
            + f"free some space, then continue with `dltrain resume {Path(run_dir).name}`"
        ) from None
    for entry in dropped:
        with contextlib.suppress(OSError):
            (folder / entry.file).unlink()
    return folder / name


def _best_entry(run_dir: Path, recorded: BestEntry | None, epoch: int | None):
    """The manifest's record of best.keras for best epoch `epoch` (hashed when it changed)."""
    if epoch is None:
        return None
    if recorded is not None and recorded.epoch == epoch:
        return recorded
    path = folder_of(run_dir) / BEST
    try:
        return BestEntry(sha256=_sha256(path), bytes=path.stat().st_size, epoch=epoch)
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror}") from None


def _kept(entries: list[Entry], best: BestEntry | None) -> list[Entry]:
    """The newest `KEEP` checkpoints, and the one written right after the best epoch (its
    weights are the best model's: best.keras can be rebuilt from it)."""
    keep = entries[-KEEP:]
    if best is not None:
        keep = [e for e in entries if e in keep or _is_best_state(e, best.epoch)]
    return keep


def _is_best_state(entry: Entry, best_epoch: int) -> bool:
    return entry.epoch == best_epoch + 1 and entry.step == 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load_latest(run_dir: Path, model) -> Restored | None:
    """Restores the newest intact checkpoint (rebuilding best.keras if needed).

    Returns None when no checkpoint was ever written.

    Raises:
        RunError: checkpoints exist but none is intact, or the manifest is damaged.
    """
    folder = folder_of(run_dir)
    manifest = read_manifest(run_dir)
    skipped: list[str] = []
    if manifest is None:
        manifest = _found_on_disk(folder)
        if manifest.checkpoints:
            skipped.append(
                f"{_manifest_path(run_dir)} is missing; the checkpoints found in {folder} are "
                "checked by their own zip checksums instead"
            )
    entries = manifest.checkpoints
    # Runs of format 1, and checkpoints found without a manifest, have no recorded
    # checksum of best.keras: there, a best.keras that opens cleanly is trusted.
    unverified = manifest.format < 2 or any(e.sha256 is None for e in entries)
    variables = state_variables(model)
    for entry in reversed(entries):
        arrays, meta, why = _read_state(folder, entry, len(variables))
        if arrays is None:
            skipped.append(why)
            continue
        best_epoch = meta.get("best_epoch")
        if best_epoch is not None and not _best_intact(folder, manifest.best, best_epoch):
            if unverified and _opens(folder / BEST):
                skipped.append(f"{folder / BEST} has no recorded checksum; it opens cleanly")
            elif _rebuild_best(run_dir, model, manifest, best_epoch, variables):
                manifest = read_manifest(run_dir) or manifest
                skipped.append(
                    f"{folder / BEST} was missing or damaged; rebuilt from the checkpoint "
                    f"written right after epoch {best_epoch + 1}, which holds the same weights"
                )
            else:
                skipped.append(
                    f"{folder / BEST} (the model of epoch {best_epoch + 1}) is missing or "
                    f"damaged and cannot be rebuilt; not resuming from {entry.file}"
                )
                continue
        _assign(variables, arrays, folder / entry.file)
        return Restored(meta, folder / entry.file, skipped)
    if entries or skipped:
        raise RunError(
            f"no intact checkpoint in {folder}: "
            + "; ".join(skipped)
            + ". The run cannot be resumed exactly; start a new run with `dltrain train`"
        )
    return None


def _rebuild_best(run_dir: Path, model, manifest: Manifest, best_epoch: int, variables) -> bool:
    """Writes best.keras again from the checkpoint saved right after the best epoch."""
    folder = folder_of(run_dir)
    source = next((e for e in manifest.checkpoints if _is_best_state(e, best_epoch)), None)
    if source is None:
        return False
    arrays, _, _ = _read_state(folder, source, len(variables))
    if arrays is None:
        return False
    _assign(variables, arrays, folder / source.file)
    save_model(model, folder / BEST)
    best = BestEntry(
        sha256=_sha256(folder / BEST), bytes=(folder / BEST).stat().st_size, epoch=best_epoch
    )
    _write_manifest(run_dir, Manifest(checkpoints=manifest.checkpoints, best=best))
    return True


def _opens(path: Path) -> bool:
    """Whether a .keras file (a zip) is complete: every member's CRC checks out."""
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def _found_on_disk(folder: Path) -> Manifest:
    """Checkpoints on disk when the manifest is gone, oldest first (checksums unknown)."""
    entries = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            m = STATE_FILE.match(path.name)
            if m and path.is_file() and not path.is_symlink():
                entries.append(
                    Entry(
                        file=path.name,
                        sha256=None,
                        bytes=path.stat().st_size,
                        epoch=int(m.group(1)),
                        step=int(m.group(2)),
                    )
                )
    return Manifest(checkpoints=entries)


def _read_state(folder: Path, entry: Entry, count: int):
    """(arrays, meta, None) of an intact checkpoint, else (None, None, why it is skipped)."""
    path = folder / entry.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, None, f"{path} cannot be read ({exc.strerror}); using an earlier checkpoint"
    if entry.sha256 is not None and hashlib.sha256(data).hexdigest() != entry.sha256:
        return None, None, f"{path} is damaged (checksum mismatch); using an earlier checkpoint"
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            stored = sum(1 for key in f.files if key.startswith("v"))
            if stored != count:
                raise RunError(
                    f"{path} holds {stored} variables but the model has {count}; "
                    "was the run's config changed?"
                )
            arrays = [f[f"v{i:05d}"] for i in range(count)]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        return None, None, f"{path} is damaged ({exc}); using an earlier checkpoint"
    return arrays, meta, None


def _assign(variables, arrays, path: Path) -> None:
    for variable, value in zip(variables, arrays, strict=True):
        if tuple(variable.shape) != value.shape:
            raise RunError(
                f"{path} does not match the model ({variable.path}: {value.shape} vs "
                f"{tuple(variable.shape)}); was the run's config changed?"
            )
        variable.assign(value)


def _best_intact(folder: Path, recorded: BestEntry | None, epoch: int) -> bool:
    """Whether best.keras is the model of `epoch` (by the manifest's checksum)."""
    path = folder / BEST
    if recorded is None or recorded.epoch != epoch or not path.is_file():
        return False
    try:
        return _sha256(path) == recorded.sha256
    except OSError:
        return False


def save_model(model, path: Path) -> None:
    """Saves a .keras file atomically (temporary file, fsync, rename); the temporary file
    is removed when the write fails (e.g. a full disk)."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RunError(f"cannot save the model to {path}: {exc.strerror or exc}") from None
