"""`dltrain check`: validate, summarise the data, show the model's shapes, run the sanity suite.

Nothing lasting is trained: the sanity suite's models are thrown away. The
processed dataset is cached as `preprocess` would cache it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dltrain.config import ExperimentConfig
from dltrain.training import sanity
from dltrain.training.events import SILENT, Listener
from dltrain.training.session import SANITY_DETAIL, checking


@dataclass(frozen=True)
class CheckResult:
    manifest: dict
    cache: Path
    hit: bool
    layers: list[tuple[str, str, str, int]]  # name, type, output shape, parameters
    params: tuple[int, int]  # trainable, non-trainable
    checks: list[sanity.Check]


def check(config: ExperimentConfig, listener: Listener = SILENT) -> CheckResult:
    with checking(config, listener) as session:
        listener.phase("model", f"building {config.model.architecture}")
        model = session.model(steps=None)
        layers = [
            (layer.name, type(layer).__name__, str(tuple(layer.output.shape)), layer.count_params())
            for layer in model.layers
        ]
        trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
        frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
        listener.phase("sanity", SANITY_DETAIL)
        checks = session.suite()  # cached when this model, data and seed were checked
    data = session.data
    return CheckResult(data.manifest, data.path, data.hit, layers, (trainable, frozen), checks)
