"""Two-stage fine-tuning (`train.fine_tune`): freeze the backbone, then unfreeze it.

Stage 1 (epochs before `frozen_epochs`) trains everything but the backbone; the
backbone's layers are not trainable, and a Keras batch-norm layer that is not
trainable runs in inference mode, so its pretrained statistics are kept. Stage 2
makes the chosen backbone layers trainable (batch-norm layers only with
`batch_norm: true`) and sets the optimiser's learning rate to `fine_tune.learning_rate`.

One optimiser serves both stages: it is built on every variable that stage 2 will
train, before the first step, so a resume checkpoint has the same variables in either
stage and `dltrain resume` works across the boundary. A stage change retraces Keras's
train function (the set of trainable variables changed).
"""

from __future__ import annotations

import fnmatch

from dltrain.errors import ConfigError


def backbone_of(model):
    """The part that stage 1 freezes: the nested model named "backbone" (pretrained) or
    "encoder" (an autoencoder's, reused with init_from); None if there is none."""
    for layer in _walk(model):
        if layer.name in ("backbone", "encoder") and hasattr(layer, "layers"):
            return layer
    return None


def _walk(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _walk(layer)


def _leaves(model) -> list:
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers"):
            out += _leaves(layer)
        else:
            out.append(layer)
    return out


def _is_batch_norm(layer) -> bool:
    import keras

    return isinstance(layer, keras.layers.BatchNormalization)


def unfrozen(config, backbone) -> list:
    """The backbone layers that stage 2 trains."""
    ft = config.train.fine_tune
    layers = [layer for layer in _leaves(backbone) if layer.weights]
    if ft.unfreeze == "all":
        chosen = layers
    elif isinstance(ft.unfreeze, int):
        chosen = layers[-ft.unfreeze :]
    else:
        chosen = [layer for layer in layers if fnmatch.fnmatchcase(layer.name, ft.unfreeze)]
        if not chosen:
            names = [layer.name for layer in layers]
            shown = ", ".join(names[:3] + ["..."] + names[-3:]) if len(names) > 6 else names
            raise ConfigError(
                f"train.fine_tune.unfreeze pattern {ft.unfreeze!r} matches no layer of the "
                f"backbone {backbone.name!r} (layers with weights: {shown}); use * and ? "
                "wildcards, a number of last layers, or 'all'",
                where=config.where("train.fine_tune.unfreeze"),
            )
    if not ft.batch_norm:
        chosen = [layer for layer in chosen if not _is_batch_norm(layer)]
    return chosen


def stage_of(config, epoch: int) -> int:
    """0 without fine-tuning, else 1 (backbone frozen) or 2 (unfrozen) for 0-based `epoch`."""
    ft = config.train.fine_tune
    if ft is None:
        return 0
    return 1 if epoch < ft.frozen_epochs else 2


def prepare(model, config) -> None:
    """Builds the optimiser on stage 2's variables, then sets stage 1 (after compile)."""
    if config.train.fine_tune is None:
        return
    backbone = backbone_of(model)
    if backbone is None:
        raise ConfigError(
            "train.fine_tune needs a model with a backbone to freeze: architecture "
            "'pretrained', or train.init_from an autoencoder run (its encoder)",
            where=config.where("train.fine_tune"),
        )
    _set(model, backbone, config, 2)
    model.optimizer.build(model.trainable_variables)
    _set(model, backbone, config, 1)


def _set(model, backbone, config, stage: int) -> bool:
    """Sets the trainable flags of `stage`; True if any changed."""
    leaves = _leaves(backbone)
    before = [backbone.trainable] + [layer.trainable for layer in leaves]
    train = {id(layer) for layer in unfrozen(config, backbone)} if stage == 2 else set()
    backbone.trainable = True  # a frozen container would hide its layers' variables
    for layer in leaves:
        layer.trainable = id(layer) in train
    return before != [True] + [layer.trainable for layer in leaves]


def apply(model, config, epoch: int) -> int:
    """Puts the model in the stage of `epoch` (flags, learning rate); returns the stage."""
    stage = stage_of(config, epoch)
    if stage == 0:
        return 0
    backbone = backbone_of(model)
    changed = _set(model, backbone, config, stage)
    rate = (
        config.train.optimizer.learning_rate if stage == 1 else config.train.fine_tune.learning_rate
    )
    model.optimizer.learning_rate.assign(rate)
    if changed or model.train_function is None:
        model.make_train_function(force=True)
    return stage


def summary(config) -> str | None:
    """One line for the report: which epochs were in which stage, at which learning rate."""
    ft = config.train.fine_tune
    if ft is None:
        return None
    epochs = config.train.epochs
    what = (
        "all of the backbone"
        if ft.unfreeze == "all"
        else f"its last {ft.unfreeze} layers"
        if isinstance(ft.unfreeze, int)
        else f"the backbone layers matching {ft.unfreeze!r}"
    )
    bn = "" if ft.batch_norm else " (batch-norm layers kept frozen, in inference mode)"
    return (
        f"Stage 1, epochs 1–{min(ft.frozen_epochs, epochs)}: backbone frozen, head trained at "
        f"learning rate {config.train.optimizer.learning_rate:g}. Stage 2, epochs "
        f"{ft.frozen_epochs + 1}–{epochs}: {what} unfrozen{bn}, learning rate "
        f"{ft.learning_rate:g}."
    )
