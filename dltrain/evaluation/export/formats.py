"""The export formats: one `ExportFormat` each, all registered in `EXPORT_FORMATS`.

A format says what it writes (file or folder name), what it needs installed, how it
writes the run's model, how its own runtime runs the written file (the export check
compares that with the Keras model), and how a user serves it (export.json, README.md).
A new format is one more `ExportFormat` here, added to `EXPORT_FORMATS` at the end.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dltrain.errors import UsageError
from dltrain.evaluation.export.trace import inference_model, keras_outputs, quiet
from dltrain.models.registry import Registry


@dataclass(frozen=True)
class ExportFormat:
    """One export format.

    Args:
        name: what `--format` takes, e.g. "onnx".
        artifact: the file or folder it writes in the export folder, e.g. "model.onnx".
        write: writes the run's model there: `write(run, model, artifact_path)`.
        run: the written model's outputs on inputs `x`, through the format's own
            runtime: `run(artifact_path, x)`.
        serving: how a user loads and calls it, for export.json and README.md.
        requires: modules that must import for the export and its check. Defaults to ().
        install_hint: the usage error when one of them is missing. Defaults to "".
        traced: the artifact is the traced inference graph, whose input is named
            "inputs"; False: it is the run's own Keras model, with its input name.
            Defaults to True.
    """

    name: str
    artifact: str
    write: Callable[[object, object, Path], None]
    run: Callable[[Path, np.ndarray], np.ndarray]
    serving: str
    requires: tuple[str, ...] = ()
    install_hint: str = ""
    traced: bool = True

    def require(self) -> None:
        """Raises a `UsageError` with the install hint when a required module is missing."""
        for module in self.requires:
            try:
                importlib.import_module(module)
            except ImportError:
                raise UsageError(self.install_hint) from None

    def input_name(self, model) -> str:
        """The name of the exported model's input."""
        return "inputs" if self.traced else model.inputs[0].name


def _traced_writer(target: str, *, for_onnx: bool = False):
    """A `write` that traces the inference graph and hands it to `keras.Model.export`."""

    def write(run, model, artifact: Path) -> None:
        wrapper = inference_model(model, for_onnx=for_onnx)
        with quiet():
            wrapper.export(str(artifact), format=target, verbose=False)

    return write


def _write_keras(run, model, artifact: Path) -> None:
    shutil.copyfile(run.dir / "model.keras", artifact)


def _run_keras(artifact: Path, x: np.ndarray) -> np.ndarray:
    from dltrain.evaluation.predict import load_model

    return keras_outputs(load_model(artifact), x)


def _run_savedmodel(artifact: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(artifact))
    return np.asarray(loaded.serve(x))


def _run_onnx(artifact: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _run_tflite(artifact: Path, x: np.ndarray) -> np.ndarray:
    with quiet():
        return run_tflite(artifact, x)


def run_tflite(artifact: Path, x: np.ndarray) -> np.ndarray:
    """Runs a .tflite model with the LiteRT interpreter (`ai-edge-litert`) if installed, else
    TensorFlow's `tf.lite.Interpreter` (deprecated by TensorFlow in favour of LiteRT, still
    in TF 2.21); the batch axis is resized to `x`.

    Raises:
        UsageError: the model needs TensorFlow ops the standard TFLite runtime lacks.
    """
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


ONNX_HINT = (
    "ONNX export needs the optional packages tf2onnx, onnx and onnxruntime: "
    "pip install 'dltrain[onnx]' (or pip install tf2onnx onnx onnxruntime)"
)

KERAS = ExportFormat(
    name="keras",
    artifact="model.keras",
    write=_write_keras,
    run=_run_keras,
    serving="keras.saving.load_model('model.keras', safe_mode=True); model(x, training=False)",
    traced=False,
)
SAVEDMODEL = ExportFormat(
    name="savedmodel",
    artifact="saved_model",
    write=_traced_writer("tf_saved_model"),
    run=_run_savedmodel,
    serving="tf.saved_model.load('saved_model').serve(x)",
)
ONNX = ExportFormat(
    name="onnx",
    artifact="model.onnx",
    write=_traced_writer("onnx", for_onnx=True),
    run=_run_onnx,
    serving="onnxruntime.InferenceSession('model.onnx').run(None, {'inputs': x})[0]",
    requires=("onnx", "onnxruntime", "tf2onnx"),
    install_hint=ONNX_HINT,
)
TFLITE = ExportFormat(
    name="tflite",
    artifact="model.tflite",
    write=_traced_writer("litert"),
    run=_run_tflite,
    serving="tf.lite.Interpreter('model.tflite'): resize_tensor_input to x.shape, "
    "allocate_tensors, set_tensor, invoke, get_tensor",
)

EXPORT_FORMATS: Registry[ExportFormat] = Registry("export format")
"""Every export format by name, in the order `--format` lists them."""
for _format in (KERAS, SAVEDMODEL, ONNX, TFLITE):
    EXPORT_FORMATS.add(_format.name, _format)
