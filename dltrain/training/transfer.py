"""`train.init_from`: start a new run from an earlier run's weights.

Layers are matched by name (every dltrain builder and every keras.applications backbone
names its layers uniquely), across nested models. `layers: all` takes every layer with
weights; `layers: backbone` only the backbone part (see `part`). Every layer of that part
in the new model must exist in the earlier run with weights of the same shapes; otherwise
nothing is copied and the error lists each layer that does not fit.

Augmentation and dropout layers hold only random-generator state, which is not copied.
The run records what it started from in `init_from.json` (run, layers, the SHA-256 of
the earlier model file), so the provenance of its first weights is in its own folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from dltrain import runs
from dltrain.errors import ConfigError, RunError


def _leaves(model) -> list:
    out = []
    for layer in model.layers:
        out += _leaves(layer) if hasattr(layer, "layers") else [layer]
    return out


def _weights(layer) -> list:
    return [w for w in layer.weights if "seed_generator" not in w.path]


def part(model, layers: str) -> list:
    """The leaf layers with weights that `layers` ("all" or "backbone") takes."""
    if layers == "backbone":
        from dltrain.training.stages import backbone_of

        inner = backbone_of(model)
        chosen = (
            _leaves(inner)
            if inner is not None
            else [layer for layer in _leaves(model) if layer.name != "output"]
        )
    else:
        chosen = _leaves(model)
    return [layer for layer in chosen if _weights(layer)]


def init_from(model, config, run_dir: Path) -> dict:
    """Copies the earlier run's weights into `model`; returns what init_from.json records.

    Raises:
        ConfigError: the run does not exist or has no final model, or a layer is missing
            from it or has weights of other shapes (each such layer is listed).
    """
    spec = config.train.init_from
    where = config.where("train.init_from")
    path, source = _source_model(spec, where)
    problems, pairs = _matched(model, source, spec)
    if problems:
        hint = (
            " To reuse everything but the head, set train.init_from.layers: backbone."
            if spec.layers == "all"
            else ""
        )
        raise ConfigError(
            f"train.init_from: the weights of run {spec.run} do not fit this model "
            f"({len(problems)} layer(s)); nothing was copied.{hint}",
            where=where,
            details=problems[:40] + [f"... and {len(problems) - 40} more"][: len(problems) > 40],
        )
    for _, mine, given in pairs:
        for variable, value in zip(mine, given, strict=True):
            variable.assign(value.numpy())
    record = {
        "run": spec.run,
        "layers": spec.layers,
        "copied": [layer.name for layer, _, _ in pairs],
        "model_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    runs.write_json(run_dir / "init_from.json", record)
    return record


def _source_model(spec, where: str | None):
    """(path, model) of the run `spec.run`'s model.keras; a ConfigError when it has none."""
    from dltrain.evaluation.predict import load_model

    try:
        source_dir = runs.resolve_run(spec.run)
    except Exception as exc:  # UsageError: unknown id, or outside the runs folder
        raise ConfigError(f"train.init_from: {getattr(exc, 'message', exc)}", where=where) from None
    path = source_dir / "model.keras"
    if not path.is_file():
        raise ConfigError(
            f"train.init_from: run {spec.run} has no model.keras (it did not complete); "
            "start from a completed run",
            where=where,
        )
    try:
        return path, load_model(path)
    except RunError as exc:
        raise ConfigError(f"train.init_from: {exc.message}", where=where) from None


def _matched(model, source, spec) -> tuple[list[str], list]:
    """(problems, pairs): each layer of `model`'s part with the source layer of its name,
    or why it cannot take its weights."""
    theirs = {}
    for layer in _leaves(source):
        theirs.setdefault(layer.name, layer)
    problems, pairs = [], []
    for layer in part(model, spec.layers):
        other = theirs.get(layer.name)
        mine = _weights(layer)
        if other is None or not _weights(other):
            problems.append(f"{layer.name}: not in run {spec.run}")
            continue
        given = _weights(other)
        shapes = [tuple(w.shape) for w in mine]
        their_shapes = [tuple(w.shape) for w in given]
        if shapes != their_shapes:
            problems.append(
                f"{layer.name}: {_shapes(their_shapes)} in run {spec.run}, {_shapes(shapes)} here"
            )
            continue
        pairs.append((layer, mine, given))
    return problems, pairs


def _shapes(shapes: list[tuple]) -> str:
    return " + ".join(str(s) for s in shapes)
