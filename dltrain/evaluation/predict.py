"""Loading a run's model and turning its outputs into scores and prediction files."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from dltrain import runs, tasks
from dltrain.errors import RunError


def load_model(path: Path):
    """Loads a .keras file in safe mode (no arbitrary code from the file).

    dltrain's own layers are registered first, so a model that holds them loads in a
    process that never imported the training code.
    """
    import keras

    import dltrain.models.layers  # noqa: F401  (registers dltrain's Keras layers)

    if not Path(path).exists():
        raise RunError(f"the model file {path} is missing; the run did not finish")
    try:
        return keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except ValueError as exc:
        refused = _refused_by_safe_mode(str(exc))
        if refused is not None:
            raise RunError(
                f"{path} contains {refused} and is refused: dltrain loads models in safe mode "
                "only (no code or outside files from a model file)"
            ) from None
        raise RunError(f"cannot load the model {path}: {exc}") from None
    except OSError as exc:
        raise RunError(f"cannot load the model {path}: {exc}") from None
    except (zipfile.BadZipFile, EOFError, KeyError) as exc:  # a truncated or damaged file
        raise RunError(f"{path} is damaged and cannot be loaded ({exc})") from None


def _refused_by_safe_mode(message: str) -> str | None:
    """What Keras safe mode refused, named as its message names it, or None.

    Keras 3 says "Requested the deserialization of a `Lambda` layer whose `function` is a
    Python lambda", "... of a `TFSMLayer`, which loads an external SavedModel", "... of a
    Python lambda", "... of a `torch.nn.Module` ...", or "Requested the loading of a
    vocabulary file outside of the model archive"; each suggests turning safe mode off.
    """
    if "safe_mode" not in message:
        return None
    named = re.search(r"deserialization of an? `([\w.]+)`", message)
    if named is None:
        if "Python lambda" in message:
            return "code (a Python lambda)"
        if "vocabulary file" in message:
            return "a reference to a vocabulary file outside the model archive"
        return "something Keras safe mode refuses (code or an outside file)"
    name = named.group(1)
    if name == "Lambda":
        return "code (a Lambda layer)"
    if name == "TFSMLayer":
        return "a TFSMLayer (it loads an external SavedModel, which can run code)"
    return f"a `{name}` (it can run code)"


def model_scores(model, x: np.ndarray) -> np.ndarray:
    """Positive-class probability (binary), class probabilities (multiclass) or values."""
    from dltrain.data.pipeline import make_dataset

    out = model.predict(make_dataset(x, None, 256), verbose=0)
    out = out.astype("float64")  # decisions, thresholds and CSV all use the same numbers
    return out[:, 0] if out.shape[1] == 1 else out


def write_predictions(
    path: Path,
    ids,
    rows,
    y_true,
    scores,
    task,
    classes,
    threshold,
    *,
    with_threshold=False,
    groups=None,
) -> None:
    """Per-sample predictions: id, row, group (if any), truth (if known), predicted label,
    probabilities.

    With `with_threshold` (what `dltrain predict` writes), binary and multilabel tables end
    with a `threshold` column: the frozen threshold that made the `predicted` decision. The
    group (e.g. the patient) lets `compare` resample by group from the predictions alone.
    """
    import pandas as pd

    table = pd.DataFrame({"id": ids, "row": np.asarray(rows) + 1})
    if groups is not None:
        table["group"] = groups
    the_task = tasks.get(task)
    the_task.prediction_columns(table, y_true, scores, classes, threshold)
    if with_threshold and the_task.thresholded:
        table["threshold"] = threshold
    runs.atomic_write_text(path, table.to_csv(index=False))
