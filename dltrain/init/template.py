"""A starter experiment file from a `Survey`: commented YAML that trains as written.

Every guess is written with a comment saying what was found and what to change; the
settings are small and safe (a small model, early stopping, a stratified or group split,
1000 bootstrap resamples), so the first run is quick and honest.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from dltrain.init.survey import Survey

MODELS = {
    "tabular": ["architecture: mlp", "hidden_units: [32, 16]", "dropout: 0.2"],
    "images": ["architecture: cnn", "filters: [16, 32]", "dropout: 0.2"],
    "signals": ["architecture: cnn1d", "filters: [32, 64]", "dropout: 0.2"],
    "text": ["architecture: gru", "units: [32]", "embedding_dim: 32", "bidirectional: true"],
    "volumes": ["architecture: cnn3d", "filters: [8, 16]"],
}
UNSUPERVISED = ["architecture: autoencoder", "kind: conv", "filters: [8, 16]", "latent: 16"]
GENERIC_NAMES = {"signals", "volumes", "data", "images", "labels", "dataset", "train", "table"}
MAX_IMAGE_SIDE = 64


def note(line: str, comment: str, width: int = 30) -> str:
    """`line` with an aligned `# comment`."""
    return f"{line:<{width}}  # {comment}"


def y(value) -> str:
    """One value in YAML flow style (quoted when needed)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.strip().removesuffix("...").strip()


def experiment_name(path: Path) -> str:
    """A valid experiment name from the data's file or folder name."""
    stem = path.stem if path.is_file() else path.name
    if stem.lower() in GENERIC_NAMES and path.parent.name:
        stem = path.parent.name
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_") or "experiment"
    return name[:64] if name[0].isalnum() else f"x{name}"[:64]


def relative(path: Path, out: Path) -> str:
    """`path` as the config should name it: relative to the config's folder when possible."""
    try:
        return Path(os.path.relpath(path.resolve(), out.resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows)
        return path.resolve().as_posix()


def starter(found: Survey, out: Path) -> str:
    """The commented experiment file for `found`, written to live at `out`."""
    lines = [
        f"# Starter config written by `dltrain init` for {found.path}.",
        f"# {found.samples} samples; {found.kind} data. What dltrain found and guessed:",
        *(f"#   - {note}" for note in found.notes),
        f"# Check the guesses, then: dltrain check {out.name} && dltrain train {out.name}",
        f"name: {experiment_name(found.path)}",
        "seed: 42",
        "data:",
        *(f"  {line}" for line in _data(found, out)),
        "model:",
        *(f"  {line}" for line in _model(found)),
        "train:",
        note("  epochs: 50", "an upper bound: early stopping ends sooner", 32),
        "  batch_size: 32",
        "  optimizer: {name: adam, learning_rate: 1.0e-3}",
        "  early_stopping: {monitor: val_loss, patience: 8}",
        *(
            [note("  class_weight: balanced", "the classes are imbalanced", 32)]
            if _skewed(found)
            else []
        ),
        "evaluate:",
        note("  bootstrap: 1000", "resamples behind every 95% interval", 32),
    ]
    return "\n".join(lines) + "\n"


def _data(found: Survey, out: Path) -> list[str]:
    lines = [f"kind: {found.kind}", f"path: {y(relative(found.path, out))}"]
    if found.labels is not None:
        lines.append(f"labels: {y(relative(found.labels, out))}")
    if found.kind == "text" and found.text and found.path.suffix:
        lines.append(note(f"text: {y(found.text)}", "the column of free text"))
    lines += _target(found)
    if found.id is not None:
        lines.append(note(f"id: {y(found.id)}", "carried into predictions, never an input"))
    if found.group is not None:
        lines.append(note(f"group: {y(found.group)}", "one patient's samples stay in one split"))
    lines += _kind_settings(found)
    lines.append(f"split: {_split(found)}")
    if found.kind == "tabular":
        roles = {found.target, found.id, found.group}
        inputs = [c for c in found.columns if c.name not in roles]
        numeric = sum(c.type == "numeric" for c in inputs)
        lines.append(
            f"# inputs: every other column ({numeric} numeric, {len(inputs) - numeric} "
            "categorical); list them in features: to choose"
        )
    return lines


def _target(found: Survey) -> list[str]:
    if found.target is None:
        return [note("target: null", "nothing to predict: an autoencoder learns the data")]
    lines = [f"target: {y(found.target)}"]
    if found.classes:
        shown = ", ".join(f"{c}: {n}" for c, n in list(found.classes.items())[:12])
        more = f", … ({len(found.classes)} classes)" if len(found.classes) > 12 else ""
        lines[0] = note(lines[0], f"{found.task}; samples per class: {shown}{more}")
        if found.task == "binary":
            counts = found.classes
            positive = min(counts, key=counts.get)
            why = "the rarer class" if len(set(counts.values())) > 1 else "the second class"
            if why == "the second class":
                positive = sorted(counts)[1]
            lines.append(
                note(f"positive_class: {y(positive)}", f"{why}: sensitivity is about finding it")
            )
    else:
        lines[0] = note(lines[0], "regression")
        lines.append(note("# unit: mmHg", "the target's unit, shown in the report"))
    return lines


def _kind_settings(found: Survey) -> list[str]:
    if found.kind == "images" and found.sizes:
        h, w = found.sizes["median"]
        scale = min(1.0, MAX_IMAGE_SIDE / max(h, w))
        size = [max(8, round(h * scale)), max(8, round(w * scale))]
        lo, hi = found.sizes["min"], found.sizes["max"]
        return [note(f"size: {y(size)}", f"images are {lo[0]}x{lo[1]} to {hi[0]}x{hi[1]}")]
    if found.kind == "signals" and found.shape:
        leads = found.shape[1] if len(found.shape) > 1 else 1
        return [f"# each series: {found.shape[0]} samples x {leads} channel(s)"]
    if found.kind == "text":
        return [note("max_length: 64", "tokens kept per text")]
    return []


def _split(found: Survey) -> str:
    if found.group is not None:
        return "{method: group, val: 0.15, test: 0.15}"
    if found.task in ("binary", "multiclass"):
        return "{method: stratified, val: 0.15, test: 0.15}"
    return "{method: random, val: 0.15, test: 0.15}"


def _model(found: Survey) -> list[str]:
    if found.target is None:
        return (
            UNSUPERVISED
            if found.kind != "tabular"
            else [
                "architecture: autoencoder",
                "latent: 8",
            ]
        )
    return MODELS[found.kind]


def _skewed(found: Survey) -> bool:
    counts = list(found.classes.values())
    return len(counts) > 1 and max(counts) > 4 * max(1, min(counts))
