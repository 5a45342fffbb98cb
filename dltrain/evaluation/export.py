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
  folder says the same in words.

Every export is checked before it is kept: the exported file is loaded with its own
runtime (Keras, TensorFlow, ONNX Runtime, the TFLite interpreter) and its outputs on up
to 64 test samples must match the Keras model's within `TOLERANCE`. The folder is built
under a temporary name and renamed, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dltrain import runs
from dltrain.errors import DltrainError, RunError, UsageError

FORMATS = ("keras", "savedmodel", "onnx", "tflite")
ARTIFACT = {
    "keras": "model.keras",
    "savedmodel": "saved_model",
    "onnx": "model.onnx",
    "tflite": "model.tflite",
}
TOLERANCE = 1e-4
"""Largest absolute difference allowed between an exported model's outputs (probabilities,
standardised values or reconstructions) and the run's Keras model, on the same inputs."""
CHECK_SAMPLES = 64
ONNX_HINT = (
    "ONNX export needs the optional packages tf2onnx, onnx and onnxruntime: "
    "pip install 'dltrain[onnx]' (or pip install tf2onnx onnx onnxruntime)"
)


class ExportError(DltrainError):
    """The exported model does not reproduce the run's model (exit 1: a converter bug)."""

    exit_code = 1
    title = "Export failed"


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
    run = FinishedRun(run_id)
    out = Path(out) if out is not None else runs.run_subdir(run.dir, "exports") / fmt
    if out.exists() and not (out / "export.json").is_file():
        raise UsageError(
            f"--out {out} already exists and is not a dltrain export; choose a new folder "
            "(an earlier export is replaced, anything else is left alone)"
        )
    if fmt == "onnx":
        _require_onnx()
    with runs.RunLock(run.dir):  # as `dltrain report`: one process writes in a run folder
        return _export(run, fmt, out)


def _export(run, fmt: str, out: Path) -> Exported:
    run_id = run.id
    x, inputs_from = check_inputs(run)
    model = run.model
    expected = np.asarray(_call(model, x), dtype="float64")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        artifact = tmp / ARTIFACT[fmt]
        _write(fmt, run, model, artifact)
        got = np.asarray(run_exported(fmt, artifact, x), dtype="float64")
        diff = float(np.max(np.abs(got - expected))) if got.size else 0.0
        if got.shape != expected.shape or not diff <= TOLERANCE:
            raise ExportError(
                f"the {fmt} export of run {run_id} does not reproduce its model: largest "
                f"difference {diff:.3g} on {len(x)} sample(s) (allowed {TOLERANCE:g}); nothing "
                "was written. Please report this with the run's config"
            )
        shutil.copyfile(run.dir / "preprocessing.json", tmp / "preprocessing.json")
        manifest = describe(run, fmt, model, diff, len(x), inputs_from)
        runs.write_json(tmp / "export.json", manifest)
        runs.atomic_write_text(tmp / "README.md", readme(manifest))
        _replace(tmp, out)
    except OSError as exc:
        raise RunError(f"cannot write the export to {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Exported(out, fmt, diff, len(x), inputs_from)


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError:
        raise UsageError(ONNX_HINT) from None


def _replace(tmp: Path, out: Path) -> None:
    """Puts the finished folder in place; an earlier export is removed only afterwards."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _call(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(x, training=False))


def inference_model(model, *, for_onnx: bool = False):
    """The run's model as a graph called with `training=False` (augmentation and dropout off).

    For ONNX, each Normalization layer is replaced by the equivalent Rescaling
    (`x * 1/std - mean/std`): Keras keeps a Normalization's mean and variance as eager
    tensors, which tf2onnx turns into extra graph inputs instead of constants.
    """
    import keras

    def call(layer, *args, **kwargs):
        if for_onnx and isinstance(layer, keras.layers.Normalization):
            return _as_rescaling(layer)(*args, **kwargs)
        return layer(*args, **kwargs)

    core = model
    if for_onnx:
        core = keras.models.clone_model(
            model, clone_function=lambda layer: layer, call_function=call, recursive=True
        )
    spec = model.inputs[0]
    inp = keras.Input(tuple(spec.shape[1:]), dtype=spec.dtype, name="inputs")
    wrapper = keras.Model(inp, core(inp, training=False), name=f"{model.name}_inference")
    wrapper(np.zeros((1, *spec.shape[1:]), dtype=spec.dtype))  # exporters need a called model
    return wrapper


def _as_rescaling(layer):
    import keras

    mean = np.asarray(layer.mean, dtype="float64").reshape(-1)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, dtype="float64").reshape(-1)), 1e-7)
    if layer.invert:
        scale, offset = std, mean
    else:
        scale, offset = 1.0 / std, -mean / std
    return keras.layers.Rescaling(
        scale=scale.astype("float32").tolist(),
        offset=offset.astype("float32").tolist(),
        name=f"{layer.name}_as_rescaling",
    )


def _write(fmt: str, run, model, artifact: Path) -> None:
    if fmt == "keras":
        shutil.copyfile(run.dir / "model.keras", artifact)
        return
    wrapper = inference_model(model, for_onnx=fmt == "onnx")
    with _quiet():
        if fmt == "savedmodel":
            wrapper.export(str(artifact), format="tf_saved_model", verbose=False)
        elif fmt == "onnx":
            wrapper.export(str(artifact), format="onnx", verbose=False)
        else:
            wrapper.export(str(artifact), format="litert", verbose=False)


@contextlib.contextmanager
def _quiet():
    """Keeps the converters' INFO/WARNING logging (tf2onnx, absl) off the terminal."""
    import logging
    import warnings

    names = ("tf2onnx", "absl", "tensorflow")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


def run_exported(fmt: str, artifact: Path, x: np.ndarray) -> np.ndarray:
    """Outputs of an exported model on `x`, each format through its own runtime."""
    if fmt == "keras":
        from dltrain.evaluation.predict import load_model

        return _call(load_model(artifact), x)
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(artifact))
        return np.asarray(loaded.serve(x))
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    with _quiet():
        return run_tflite(artifact, x)


def run_tflite(artifact: Path, x: np.ndarray) -> np.ndarray:
    """Runs a .tflite model with the LiteRT interpreter (`ai-edge-litert`) if installed, else
    TensorFlow's `tf.lite.Interpreter` (deprecated by TensorFlow in favour of LiteRT, still
    in TF 2.21); the batch axis is resized to `x`."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806

    interpreter = Interpreter(model_path=str(artifact))
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    try:
        interpreter.allocate_tensors()
    except RuntimeError as exc:
        if "Select TensorFlow op" in str(exc) or "Flex" in str(exc):
            import re

            ops = sorted(set(re.findall(r"Flex(\w+)", str(exc))))
            named = f" ({', '.join(ops)})" if ops else ""
            raise UsageError(
                f"this model needs TensorFlow ops{named} that the standard TFLite runtime does "
                "not have (e.g. LSTM/GRU layers, 3-D pooling); export it as onnx or "
                "savedmodel instead"
            ) from None
        raise
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def check_inputs(run) -> tuple[np.ndarray, str]:
    """Up to 64 model inputs to compare on: the run's test split from the cache, if it is
    still there, else synthetic inputs of the right shape and range."""
    from dltrain.data.cache import read_shard

    t = run.transform
    spec = run.model.inputs[0]
    dtype = "int32" if "int" in str(spec.dtype) else "float32"
    cache = Path(run.dataset.get("cache", ""))
    shards = sorted(cache.glob("test-*.npz")) if cache.is_dir() else []
    if shards:
        parts, have = [], 0
        for shard in shards:
            parts.append(read_shard(shard).x[: CHECK_SAMPLES - have])
            have += len(parts[-1])
            if have >= CHECK_SAMPLES:
                break
        x = np.concatenate(parts)
        if x.ndim == len(spec.shape) and tuple(x.shape[1:]) == tuple(spec.shape[1:]):
            return np.ascontiguousarray(x.astype(dtype)), "test split (processed cache)"
    rng = np.random.default_rng(0)
    shape = (min(CHECK_SAMPLES, 16), *spec.shape[1:])
    kind = run.config.data.kind
    if kind == "text":
        x = rng.integers(0, len(t.vocabulary) + 2, shape)
    elif kind == "images":
        x = rng.uniform(0, 255, shape)
    elif kind == "tabular":
        x = rng.normal(size=shape)
    else:
        mean = np.asarray(t.channel_mean)
        x = mean + np.sqrt(np.asarray(t.channel_var)) * rng.normal(size=shape)
    return x.astype(dtype), "synthetic (the run's cache is gone)"


def describe(run, fmt: str, model, diff: float, checked: int, inputs_from: str) -> dict:
    """export.json: what goes in, what comes out, and how well the export agrees."""
    t = run.transform
    kind = run.config.data.kind
    task = run.task
    spec = model.inputs[0]
    classes = run.metrics.get("classes", [])
    return {
        "format": fmt,
        "file": ARTIFACT[fmt],
        "run": run.id,
        "exported": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "kind": kind,
        "task": task,
        "input": {
            "name": "inputs" if fmt != "keras" else spec.name,
            "shape": [None, *spec.shape[1:]],
            "dtype": "int32" if "int" in str(spec.dtype) else "float32",
        },
        "inside_model": INSIDE[kind][:-1]
        + (
            [
                "pretrained input adaptation: grayscale to RGB, resizing up to "
                f"{run.config.model.min_size} pixels, mapping to the backbone's ImageNet range"
            ]
            if run.config.model.architecture == "pretrained"
            else []
        )
        + INSIDE[kind][-1:],
        "sidecar": {"file": "preprocessing.json", "before_the_model": sidecar_steps(run)},
        "output": output_meaning(task, classes, run.metrics.get("positive_class")),
        "classes": classes,
        "positive_class": run.metrics.get("positive_class"),
        "threshold": run.metrics.get("threshold"),
        "target_mean": getattr(t, "target_mean", None) if task == "regression" else None,
        "target_std": getattr(t, "target_std", None) if task == "regression" else None,
        "check": {
            "tolerance": TOLERANCE,
            "max_abs_diff": diff,
            "samples": checked,
            "inputs": inputs_from,
            "against": "the run's model.keras (Keras, training=False)",
        },
        "serving": SERVING[fmt],
    }


INSIDE = {
    "tabular": ["the network"],
    "images": ["per-channel normalisation (train mean and variance)", "the network"],
    "signals": ["per-channel normalisation (train mean and variance)", "the network"],
    "volumes": ["per-channel normalisation (train mean and variance)", "the network"],
    "text": ["token embedding (padding id 0 masked)", "the network"],
}

SERVING = {
    "keras": "keras.saving.load_model('model.keras', safe_mode=True); model(x, training=False)",
    "savedmodel": "tf.saved_model.load('saved_model').serve(x)",
    "onnx": "onnxruntime.InferenceSession('model.onnx').run(None, {'inputs': x})[0]",
    "tflite": "tf.lite.Interpreter('model.tflite'): resize_tensor_input to x.shape, "
    "allocate_tensors, set_tensor, invoke, get_tensor",
}


def sidecar_steps(run) -> list[str]:
    """What a caller must do to raw data before the model, as `dltrain predict` does it."""
    from dltrain.kinds import kind_of

    return kind_of(run.config.data.kind).sidecar(run.transform)


def output_meaning(task: str, classes: list[str], positive: str | None) -> str:
    if task == "binary":
        return (
            f"(batch, 1): P({positive}); the decision is {positive!r} when P >= threshold "
            "(frozen on validation)"
        )
    if task == "multiclass":
        return f"(batch, {len(classes)}): class probabilities in the order of 'classes'; argmax"
    if task == "multilabel":
        return f"(batch, {len(classes)}): P(label) per label of 'classes'; each >= threshold"
    if task == "regression":
        return "(batch, 1): the standardised value; value = output * target_std + target_mean"
    return (
        "the reconstruction of the normalised input; the anomaly score is the mean squared "
        "difference from (x - mean) / sqrt(variance) (channel statistics in preprocessing.json)"
    )


def readme(m: dict) -> str:
    lines = [
        f"# Run {m['run']} exported as {m['format']}",
        "",
        f"Model file: `{m['file']}`. Load it with: `{m['serving']}`.",
        "",
        f"Input `{m['input']['name']}`: shape {m['input']['shape']}, {m['input']['dtype']}.",
        "",
        "Inside the model: " + "; ".join(m["inside_model"]) + ".",
        "",
        "Before the model (sidecar `preprocessing.json`, the run's fitted preprocessing):",
        *(f"- {step}" for step in m["sidecar"]["before_the_model"]),
        "",
        f"Output: {m['output']}.",
    ]
    if m["classes"]:
        lines.append(f"Classes: {', '.join(m['classes'])}.")
    if m["threshold"] is not None:
        lines.append(f"Frozen threshold: {m['threshold']!r}.")
    c = m["check"]
    lines += [
        "",
        f"Checked against the run's Keras model on {c['samples']} input(s) ({c['inputs']}): "
        f"largest absolute difference {c['max_abs_diff']:.3g} (allowed {c['tolerance']:g}).",
        "",
    ]
    return "\n".join(lines)


def export_summary(result: Exported) -> str:
    return (
        f"Exported {result.format} to {result.path}; outputs match the Keras model within "
        f"{result.max_abs_diff:.3g} (tolerance {TOLERANCE:g}) on {result.checked} input(s) from "
        f"the {result.inputs_from}"
    )


__all__ = ["FORMATS", "TOLERANCE", "export_run", "run_exported"]
