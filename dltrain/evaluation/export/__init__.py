"""`dltrain export`: a finished run's model as a Keras file, a SavedModel, ONNX or TFLite.

What travels inside the exported model and what beside it (docs/decisions.md):

- inside: everything that is a Keras layer of the run's model — the per-channel
  normalisation of images, signals and volumes (fitted on train), and the whole
  network. Augmentation layers are inert at inference; the export traces the model
  with `training=False`, so no random op reaches SavedModel, ONNX or TFLite.
- beside it, as a sidecar: `preprocessing.json` (the run's fitted preprocessing, the
  same file `dltrain predict` reads) for what happens before the first layer — the
  tabular encoding (fill, scale, one-hot), the text vocabulary (token ids), image
  decoding and resizing, and bringing a series to the trained length — and
  `export.json`, which says what the input and output are, the classes, the frozen
  threshold and the measured agreement with the run's Keras model. README.md in the
  folder says the same in words. A run recalibrated on validation (`evaluate.recalibrate`)
  adds `calibration.json`, the map applied to the model's probabilities after it (the
  frozen threshold is a threshold on the recalibrated probability).

Every export is checked before it is kept: the exported file is loaded with its own
runtime (Keras, TensorFlow, ONNX Runtime, the TFLite interpreter) and its outputs on up
to 64 test samples must match the Keras model's within `TOLERANCE`. The folder is built
under a temporary name and renamed, so a failed export leaves nothing half-written.

The formats are registered in `formats.EXPORT_FORMATS` (one `ExportFormat` each); the
check is in `check.py`, export.json and README.md in `describe.py`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dltrain import runs
from dltrain.errors import RunError, UsageError
from dltrain.evaluation.export.check import ExportError, agreement, check_inputs
from dltrain.evaluation.export.describe import describe, readme
from dltrain.evaluation.export.formats import EXPORT_FORMATS, ExportFormat
from dltrain.evaluation.export.trace import keras_outputs

FORMATS = tuple(fmt.name for fmt in EXPORT_FORMATS.items())
"""The export format names, in the order messages list them."""
TOLERANCE = 1e-4
"""Largest absolute difference allowed between an exported model's outputs (probabilities,
standardised values or reconstructions) and the run's Keras model, on the same inputs."""


@dataclass(frozen=True)
class Exported:
    path: Path
    format: str
    max_abs_diff: float
    checked: int
    inputs_from: str


def export_run(run_id: str, fmt: str, out: Path | None = None) -> Exported:
    """Exports run `run_id` as `fmt` into the folder `out` (default runs/<id>/exports/<fmt>).

    Args:
        run_id: a completed run.
        fmt: one of `FORMATS`.
        out: the folder to write; an existing folder is replaced only if it is an earlier
            dltrain export. Defaults to None (the run's exports/<fmt>).

    Returns:
        Where it is, and the largest difference from the Keras model on the checked samples.
    """
    from dltrain.evaluation.evaluate import FinishedRun

    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    export_format = EXPORT_FORMATS.get(fmt)
    run = FinishedRun(run_id)
    out = Path(out) if out is not None else runs.run_subdir(run.dir, "exports") / fmt
    if out.exists() and not (out / "export.json").is_file():
        raise UsageError(
            f"--out {out} already exists and is not a dltrain export; choose a new folder "
            "(an earlier export is replaced, anything else is left alone)"
        )
    export_format.require()
    with runs.RunLock(run.dir):  # as `dltrain report`: one process writes in a run folder
        return _export(run, export_format, out)


def _export(run, fmt: ExportFormat, out: Path) -> Exported:
    x, inputs_from = check_inputs(run)
    model = run.model
    expected = np.asarray(keras_outputs(model, x), dtype="float64")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        artifact = tmp / fmt.artifact
        fmt.write(run, model, artifact)
        got = fmt.run(artifact, x)
        check = agreement(fmt.name, run.id, got, expected, inputs_from, TOLERANCE)
        shutil.copyfile(run.dir / "preprocessing.json", tmp / "preprocessing.json")
        if run.recalibration is not None:  # checked against the run manifest when loaded
            shutil.copyfile(run.dir / "calibration.json", tmp / "calibration.json")
        manifest = describe(run, fmt, model, check)
        runs.write_json(tmp / "export.json", manifest)
        runs.atomic_write_text(tmp / "README.md", readme(manifest))
        _replace(tmp, out)
    except OSError as exc:
        raise RunError(f"cannot write the export to {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Exported(out, fmt.name, check.max_abs_diff, check.samples, inputs_from)


def _replace(tmp: Path, out: Path) -> None:
    """Puts the finished folder in place; an earlier export is removed only afterwards."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def run_exported(fmt: str, artifact: Path, x: np.ndarray) -> np.ndarray:
    """Outputs of an exported model on `x`, each format through its own runtime."""
    return EXPORT_FORMATS.get(fmt).run(artifact, x)


def export_summary(result: Exported) -> str:
    return (
        f"Exported {result.format} to {result.path}; outputs match the Keras model within "
        f"{result.max_abs_diff:.3g} (tolerance {TOLERANCE:g}) on {result.checked} input(s) from "
        f"the {result.inputs_from}"
    )


__all__ = [
    "FORMATS",
    "TOLERANCE",
    "ExportError",
    "Exported",
    "export_run",
    "export_summary",
    "run_exported",
]
