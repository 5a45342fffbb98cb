"""The sanity suite (Karpathy, "A Recipe for Training Neural Networks"), automated.

Run by `dltrain check` and at the start of `dltrain train` (recorded in the run's
sanity.json, and cached beside the processed data: `sanity_cache`). Every check has a
verdict — PASS, WARN, FAIL, or INFO for reference values and for a check that could not
conclude within its budget — a measured value and what was expected:

- initial_loss: the loss of the freshly initialised model on the training split
  against the entropy of the training labels (the loss of predicting the class
  priors; −ln(1/C) when the C classes are balanced), or 1 for a standardised
  regression target.
- overfit_batch: a fresh model must drive the loss on one batch far down; if the loss
  rises, stays put or does not fall, training is broken (`sanity_fit`).
- input_independent: a model trained briefly on the real inputs must do better on
  validation than the best model that ignores its inputs (`sanity_fit`).
- leaking_feature (tables): no single column may predict the target almost perfectly
  (`sanity_data`).
- baseline_*: scikit-learn's trivial models on validation (never test), the bar
  the trained model has to clear; `beats_baselines` checks it after training.

The checks that train share a budget scaled to the run's length and the model's
measured step time (`sanity_fit.Budget`); each says how many steps it used.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

from dltrain import tasks
from dltrain.config import ExperimentConfig
from dltrain.data import stream
from dltrain.errors import SanityError
from dltrain.evaluation import metrics as M
from dltrain.evaluation.baselines import fit_baselines, target_values
from dltrain.training import sanity_data, sanity_fit
from dltrain.training.events import SILENT
from dltrain.training.setup import new_model
from dltrain.training.verdict import Check, rounded

__all__ = ["Check", "Fresh", "run_suite", "beats_baselines", "recorded", "raise_on_failure"]
__all__ += ["after_training"]

INITIAL_SAMPLES = 1024  # initial_loss: enough for its ±0.5·expected tolerance
AFTER_TRAINING = ("beats_baselines", "learned_from_inputs")  # added by `Session.test`


def as_json(checks: list[Check]) -> dict:
    return {"checks": [asdict(c) for c in checks]}


def recorded(run_dir) -> list[Check] | None:
    """The suite a run recorded in sanity.json (without the after-training verdict), or None
    when it has not finished one (e.g. it was stopped during the suite)."""
    from dltrain import runs

    path = run_dir / "sanity.json"
    if not path.is_file():
        return None
    try:
        checks = [Check(**c) for c in runs.read_json(path)["checks"]]
    except (KeyError, TypeError) as exc:
        from dltrain.errors import RunError

        raise RunError(
            f"{path} is not a sanity record ({exc}); delete it to run the suite again"
        ) from None
    return [c for c in checks if c.name not in AFTER_TRAINING]


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.verdict == "FAIL"]


def raise_on_failure(checks: list[Check]) -> None:
    """Raises `SanityError` (exit 5) naming every failed check."""
    bad = failed(checks)
    if bad:
        raise SanityError(
            f"{len(bad)} sanity check(s) failed, so training would not work as set up:",
            details=[f"{c.name}: {c.detail}" for c in bad],
        )


def run_suite(
    config: ExperimentConfig,
    task: str,
    n_classes: int,
    data,
    feed,
    fresh: Fresh | None = None,
    run_steps: int | None = None,
    listener=SILENT,
) -> list[Check]:
    """Runs every check before training, each from the same freshly initialised model.

    The checks use a sample of the training and validation splits (`cache.sample_size`;
    the cache's shards are random subsets, so these are random samples). One compiled
    model is restored to its initial state (weights, optimiser slots, random-seed state)
    before each check: the same as a fresh seeded model each time, traced once.

    Args:
        fresh: the model to use (a training session passes the run's own, to train it
            afterwards without tracing again). Defaults to None: one built for the suite.
        run_steps: the configured run's training steps, which scale the budget.
            Defaults to None: epochs × steps per epoch.
    """
    train = _prepared(data.sample("train"), feed)
    val = _prepared(data.sample("val"), feed)
    transform = data.transform
    loss = tasks.get(task).loss
    if fresh is None:
        fresh = Fresh(lambda: suite_model(config, task, n_classes, train.stored.y, transform))
    if run_steps is None:
        run_steps = config.train.epochs * stream.steps(data, "train", config.train.batch_size)
    budget = sanity_fit.Budget(run_steps)
    steps = [
        lambda: [initial_loss(fresh, task, n_classes, train, feed, config.train.batch_size)],
        lambda: [sanity_fit.overfit_batch(fresh, config, loss, train, feed, budget)],
        lambda: [
            sanity_fit.input_independent(fresh, config, loss, n_classes, train, val, feed, budget)
        ],
    ]
    if sanity_data.applies(config, task):
        steps.append(lambda: [sanity_data.leaking_feature(task, train, val, transform)])
    steps.append(lambda: baseline_references(config, task, train, val, transform, feed))
    checks: list[Check] = []
    for done, step in enumerate(steps, 1):
        with warnings.catch_warnings():  # the budgeted checks end their iterators on purpose
            warnings.filterwarnings("ignore", "Your input ran out of data", UserWarning)
            new = step()
        checks += new
        listener.progress(done, len(steps), ", ".join(f"{c.name} {c.verdict}" for c in new))
    return checks


@dataclass(frozen=True)
class _Batch:
    """Inputs as the model takes them and the targets it is fitted to."""

    x: np.ndarray
    y: np.ndarray
    stored: object  # the cache Split (raw x, stored y)


def _prepared(split, feed) -> _Batch:
    x = split.x.astype("float32") if split.x.dtype == np.uint8 else split.x
    return _Batch(x, feed.eval_batch(x, split.y)[1], split)


def suite_model(config, task, n_classes, y_train, transform):
    """A fresh seeded model for a suite whose model is not trained afterwards (`check`):
    built for a short run, so never with XLA (its compile would outlast the suite)."""
    import keras

    keras.utils.set_random_seed(config.seed)
    return new_model(config, task, transform, y_train, n_classes, sanity_fit.MAX_STEPS)


class Fresh:
    """A compiled model that `restart()` puts back to the state it was built in.

    Args:
        build: returns a freshly initialised, compiled model (seeded).
    """

    def __init__(self, build):
        self.model = build()
        if not self.model.optimizer.built:  # train.fine_tune builds it on stage 2's variables
            self.model.optimizer.build(self.model.trainable_variables)  # slots, saved too
        self._state = [v.numpy() for v in self._variables()]

    def _variables(self):
        # model.variables holds the weights, batch-norm statistics and the seed generators'
        # states (dropout, augmentation); the optimiser's hold its step count and slots.
        return list(self.model.variables) + list(self.model.optimizer.variables)

    def restart(self):
        for variable, value in zip(self._variables(), self._state, strict=True):
            variable.assign(value)
        self.model.reset_metrics()
        return self.model


def initial_loss(fresh: Fresh, task, n_classes, train: _Batch, feed, batch: int) -> Check:
    """The fresh model's loss on (at most `INITIAL_SAMPLES` of) the training sample."""
    import math

    model = fresh.restart()
    x, y = train.x[:INITIAL_SAMPLES], train.y[:INITIAL_SAMPLES]
    ds = stream.dataset(
        lambda: ((x[s : s + batch], y[s : s + batch]) for s in range(0, len(x), batch)),
        feed.specs(),
    )  # the batches' signature of training's validation: the same traced test step
    loss = float(model.evaluate(ds, verbose=0, return_dict=True)["loss"])
    expected, how = tasks.get(task).expected_initial_loss(train.y, n_classes)
    if not math.isfinite(loss):
        verdict, advice = "FAIL", " The loss is not finite: look for extreme values in the data."
    elif abs(loss - expected) <= 0.5 * expected + 0.1:
        verdict, advice = "PASS", ""
    else:
        verdict = "WARN"
        advice = (
            " A loss far from this at initialisation means a badly scaled input or output "
            "layer: check the data's scale and the model's last layer."
        )
    return Check(
        "initial_loss", verdict, _round(loss), _round(expected), f"expected about {how}.{advice}"
    )


def after_training(task: str, run_dir, classes: list, y_train) -> list[Check]:
    """The suite's own check after training (`sanity_fit.learned_from_inputs`) on the kept
    model's validation predictions (predictions/val.csv); none for an autoencoder."""
    import pandas as pd

    the_task = tasks.get(task)
    path = run_dir / "predictions" / "val.csv"
    if the_task.reconstructs or not path.is_file():
        return []
    text = {"true": str, "predicted": str} if the_task.has_classes else {}  # "0" is a class
    table = pd.read_csv(path, dtype={"id": str, **text}, keep_default_na=False)
    truth, scores = the_task.read_predictions(table, classes)
    return [sanity_fit.learned_from_inputs(the_task, classes, y_train, truth, scores)]


def headline_on(task: str, n_classes: int, y, scores) -> float | None:
    fn = M.metric_functions(task, n_classes, 0.5)[M.HEADLINE[task]]
    try:
        return _round(float(fn(y, scores)))
    except ValueError:
        return None


def baseline_references(config, task, train: _Batch, val: _Batch, transform, feed):
    checks = []
    metric = M.HEADLINE[task]
    n_classes = len(data_classes(train, task))
    baselines = fit_baselines(
        task, config.data.kind, transform, (train.stored, val.stored), n_classes, feed, config.seed
    )
    y_val = target_values(val.stored, task, transform, feed)
    if tasks.get(task).reconstructs:
        y_val = val.stored.y
    for name, fitted in baselines.items():
        scores = fitted.scores(val.stored.x)
        value = headline_on(task, n_classes, y_val, scores)
        checks.append(
            Check(
                f"baseline_{name}",
                "INFO",
                value,
                None,
                f"validation {metric} of the {name} baseline: the bar to beat.",
            )
        )
    return checks


def data_classes(batch: _Batch, task: str) -> list:
    if tasks.get(task).exclusive:
        return list(range(int(batch.stored.y.max()) + 1))
    return [0, 1]


def beats_baselines(
    task: str, model_value: float | None, checks: list[Check], decisions: dict | None = None
) -> Check:
    """After training: the model's validation headline metric against the baselines'.

    `decisions` (metrics.json's "baseline_decisions_val") decides it by the paired
    bootstrap (`dltrain.evaluation.decision`); without them, by the point estimates.
    """
    metric = M.HEADLINE[task]
    if decisions:
        return _decided(metric, model_value, checks, decisions)
    bars = {
        c.name.removeprefix("baseline_"): c.value
        for c in checks
        if c.name.startswith("baseline_") and c.value is not None
    }
    lower = metric in M.LOWER_IS_BETTER
    best = (min if lower else max)(bars.values(), default=None)
    if model_value is None or best is None:
        return Check("beats_baselines", "WARN", model_value, best, f"{metric} is undefined.")
    beaten = [n for n, v in bars.items() if not M.better(metric, model_value, v)]
    bar = f"{'<' if lower else '>'} {best}"
    if not beaten:
        return Check(
            "beats_baselines",
            "PASS",
            model_value,
            bar,
            f"validation {metric} better than every baseline.",
        )
    return Check(
        "beats_baselines",
        "WARN",
        model_value,
        bar,
        f"validation {metric} does not beat the {', '.join(beaten)} baseline(s): a simpler model "
        "does as well; prefer it, or improve the features or the model.",
    )


def _decided(metric: str, model_value, checks: list[Check], decisions: dict) -> Check:
    """PASS when the model is better than every baseline by the paired bootstrap on
    validation; a tie ("no detectable difference") or a loss is a WARN naming the baseline."""
    from dltrain.evaluation.decision import describe, verdict

    beats, named = verdict(decisions)
    bars = [c.value for c in checks if c.name.startswith("baseline_") and c.value is not None]
    lower = metric in M.LOWER_IS_BETTER
    best = (min if lower else max)(bars, default=None)
    bar = None if best is None else f"{'<' if lower else '>'} {best}"
    if beats:
        return Check(
            "beats_baselines",
            "PASS",
            model_value,
            bar,
            f"validation {metric} better than every baseline (paired bootstrap).",
        )
    missed = "; ".join(
        describe(n, decisions[n]) for n, d in decisions.items() if n not in named["better"]
    )
    return Check(
        "beats_baselines",
        "WARN",
        model_value,
        bar,
        f"validation, paired bootstrap: {missed}. A simpler model does as well or better: "
        "prefer it, or improve the features or the model.",
    )


_round = rounded
