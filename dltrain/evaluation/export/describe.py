"""What an export folder says about itself: export.json and README.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from dltrain import tasks
from dltrain.evaluation.export.check import Agreement
from dltrain.evaluation.export.formats import ExportFormat


def describe(run, fmt: ExportFormat, model, check: Agreement) -> dict:
    """export.json: what goes in, what comes out, and how well the export agrees."""
    t = run.transform
    kind = run.config.data.kind
    task = run.task
    standardised = tasks.get(task).standardised
    spec = model.inputs[0]
    classes = run.metrics.classes
    return {
        "format": fmt.name,
        "file": fmt.artifact,
        "run": run.id,
        "exported": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "kind": kind,
        "task": task,
        "input": {
            "name": fmt.input_name(model),
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
        "after_the_model": after_the_model(run),
        "output": output_meaning(task, classes, run.metrics.positive_class),
        "classes": classes,
        "positive_class": run.metrics.positive_class,
        "threshold": run.metrics.threshold,
        "target_mean": getattr(t, "target_mean", None) if standardised else None,
        "target_std": getattr(t, "target_std", None) if standardised else None,
        "check": {
            **asdict(check),
            "against": "the run's model.keras (Keras, training=False)",
        },
        "serving": fmt.serving,
    }


INSIDE = {
    "tabular": ["the network"],
    "images": ["per-channel normalisation (train mean and variance)", "the network"],
    "signals": ["per-channel normalisation (train mean and variance)", "the network"],
    "volumes": ["per-channel normalisation (train mean and variance)", "the network"],
    "text": ["token embedding (padding id 0 masked)", "the network"],
}


def sidecar_steps(run) -> list[str]:
    """What a caller must do to raw data before the model, as `dltrain predict` does it."""
    from dltrain.kinds import kind_of

    return kind_of(run.config.data.kind).sidecar(run.transform)


def after_the_model(run) -> dict | None:
    """The recalibration map applied to the model's output (sidecar calibration.json)."""
    from dltrain.evaluation import calibration

    params = run.recalibration
    if params is None:
        return None
    return {"file": "calibration.json", "step": calibration.describe(params), "map": params}


def output_meaning(task: str, classes: list[str], positive: str | None) -> str:
    return tasks.get(task).output_meaning(classes, positive)


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
    after = m.get("after_the_model")
    if after:
        lines += [
            "",
            f"After the model (sidecar `{after['file']}`): {after['step']}. Apply it to the "
            "output before the threshold; `dltrain predict` does.",
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
