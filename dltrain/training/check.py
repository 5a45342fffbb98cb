"""`dltrain check`: validate, summarise the data, show the model's shapes, run the sanity suite.

Nothing lasting is trained: the sanity suite's models are thrown away. The
processed dataset is cached as `preprocess` would cache it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras

from dltrain.config import ExperimentConfig
from dltrain.data.cache import preprocess
from dltrain.evaluation.scoring import metric_names
from dltrain.training import sanity
from dltrain.training.fit import training_task
from dltrain.training.setup import feeder, monitor_of, new_model


@dataclass(frozen=True)
class CheckResult:
    manifest: dict
    cache: Path
    hit: bool
    layers: list[tuple[str, str, str, int]]  # name, type, output shape, parameters
    params: tuple[int, int]  # trainable, non-trainable
    checks: list[sanity.Check]


def check(config: ExperimentConfig) -> CheckResult:
    data = preprocess(config)
    manifest = data.manifest
    task = training_task(config, manifest)
    monitor_of(config, task)
    metric_names(config, task)
    n_classes = len(manifest["classes"])
    keras.utils.set_random_seed(config.seed)
    model = new_model(config, task, data.transform, data.sample("train").y, n_classes)
    layers = [
        (layer.name, type(layer).__name__, str(tuple(layer.output.shape)), layer.count_params())
        for layer in model.layers
    ]
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    checks = sanity.run_suite(config, task, n_classes, data, feeder(config, data, task))
    return CheckResult(manifest, data.path, data.hit, layers, (trainable, frozen), checks)
