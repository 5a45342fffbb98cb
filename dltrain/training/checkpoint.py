"""Resume checkpoints: the complete training state, written so that a crash cannot spoil it.

A checkpoint `checkpoints/state-EEEEEE-SSSSSS.npz` (epoch, steps done in it) holds
every variable that training changes — weights, batch-norm statistics, dropout
seed-generator states, optimiser slots and step count, metric accumulators — and
the loop's own state (history so far, early-stopping counters, best value) as
JSON. It is written to a temporary file, fsynced and renamed; then
`checkpoints/manifest.json`, which lists the checkpoints with their SHA-256, is
replaced the same way. A kill at any moment therefore leaves either the old
manifest (the new file is ignored) or the new one, never a half checkpoint that
is trusted. On resume, a checkpoint whose checksum does not match is skipped
with a warning naming it, and the previous one is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dltrain import runs
from dltrain.errors import RunError

FORMAT = 1
KEEP = 3


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
    skipped: list[str]  # warnings: checkpoints that failed their checksum


def _folder(run_dir: Path) -> Path:
    return runs.run_subdir(run_dir, "checkpoints")


def _manifest(run_dir: Path) -> dict:
    path = _folder(run_dir) / "manifest.json"
    if not path.exists():
        return {"format": FORMAT, "checkpoints": []}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"format": FORMAT, "checkpoints": [], "unreadable": True}


def last_good(run_dir: Path) -> str | None:
    entries = _manifest(run_dir).get("checkpoints", [])
    return str(_folder(run_dir) / entries[-1]["file"]) if entries else None


def save(run_dir: Path, model, meta: dict) -> Path:
    """Writes one checkpoint and records it in the manifest (both atomically)."""
    folder = _folder(run_dir)
    name = f"state-{meta['epoch']:06d}-{meta['step']:06d}.npz"
    values = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(state_variables(model))}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **values)
    data = buffer.getvalue()
    try:
        runs.atomic_write_bytes(folder / name, data)
        manifest = _manifest(run_dir)
        entries = [e for e in manifest.get("checkpoints", []) if e["file"] != name]
        entries.append(
            {
                "file": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "epoch": meta["epoch"],
                "step": meta["step"],
            }
        )
        dropped, entries = entries[:-KEEP], entries[-KEEP:]
        runs.write_json(folder / "manifest.json", {"format": FORMAT, "checkpoints": entries})
    except RunError as exc:
        good = last_good(run_dir)
        raise RunError(
            f"could not write checkpoint {folder / name} ({exc.message}); is the disk full? "
            + (f"The last good checkpoint is {good}; " if good else "No checkpoint was saved; ")
            + f"free some space, then continue with `dltrain resume {Path(run_dir).name}`"
        ) from None
    for entry in dropped:
        with contextlib.suppress(OSError):
            (folder / entry["file"]).unlink()
    return folder / name


def load_latest(run_dir: Path, model) -> Restored | None:
    """Restores the newest checkpoint whose checksum matches; None if there is none at all.

    Raises:
        RunError: checkpoints exist but none is intact.
    """
    folder = _folder(run_dir)
    manifest = _manifest(run_dir)
    entries = manifest.get("checkpoints", [])
    skipped = []
    if manifest.get("unreadable"):
        skipped.append(f"{folder / 'manifest.json'} is unreadable")
    variables = state_variables(model)
    for entry in reversed(entries):
        path = folder / entry["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            skipped.append(f"{path} cannot be read ({exc.strerror}); using an earlier checkpoint")
            continue
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            skipped.append(f"{path} is damaged (checksum mismatch); using an earlier checkpoint")
            continue
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            count = sum(1 for key in f.files if key.startswith("v"))
            if count != len(variables):
                raise RunError(
                    f"{path} holds {count} variables but the model has {len(variables)}; "
                    "was the run's config changed?"
                )
            arrays = [f[f"v{i:05d}"] for i in range(count)]
        for variable, value in zip(variables, arrays, strict=True):
            if tuple(variable.shape) != value.shape:
                raise RunError(
                    f"{path} does not match the model ({variable.path}: {value.shape} vs "
                    f"{tuple(variable.shape)}); was the run's config changed?"
                )
            variable.assign(value)
        return Restored(meta, path, skipped)
    if entries or skipped:
        raise RunError(
            f"no intact checkpoint in {folder}: "
            + "; ".join(skipped)
            + ". The run cannot be resumed exactly; start a new run with `dltrain train`"
        )
    return None
