"""The sanity suite (Karpathy, "A Recipe for Training Neural Networks"), automated.

Run by `dltrain check` and at the start of `dltrain train` (recorded in the run's
sanity.json). Every check has a verdict — PASS, WARN, FAIL, or INFO for
reference values — a measured value and what was expected:

- initial_loss: the loss of the freshly initialised model on the training split
  against the entropy of the training labels (the loss of predicting the class
  priors; −ln(1/C) when the C classes are balanced), or 1 for a standardised
  regression target.
- overfit_batch: a fresh model must drive the loss on one small batch close to
  zero within a bounded number of steps; if it cannot, training is broken.
- input_independent: a model trained briefly on zeroed inputs must do worse on
  validation than the same model trained as briefly on the real inputs.
- baseline_*: scikit-learn's trivial models on validation (never test), the bar
  the trained model has to clear; `beats_baselines` checks it after training.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import keras
import numpy as np

from dltrain import tasks
from dltrain.config import ExperimentConfig
from dltrain.data.pipeline import make_dataset
from dltrain.errors import SanityError
from dltrain.evaluation import metrics as M
from dltrain.evaluation.baselines import fit_baselines, flat_inputs, target_values
from dltrain.training.events import SILENT
from dltrain.training.setup import new_model

SMALL_BATCH = 32
OVERFIT_STEPS = 300
OVERFIT_TARGET = 0.05
SHORT_TRAINING_STEPS = 200


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str  # PASS | WARN | FAIL | INFO
    value: float | None
    expected: float | str | None
    detail: str


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
    return [c for c in checks if c.name != "beats_baselines"]


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
    config: ExperimentConfig, task: str, n_classes: int, data, feed, listener=SILENT
) -> list[Check]:
    """Runs every check before training, each from the same freshly initialised model.

    The checks use a sample of the training and validation splits (`cache.sample_size`) (the cache's
    shards are random subsets, so these are random samples). One model is built and
    compiled, and restored to its initial state (weights, optimiser slots, random-seed
    state) before each check: the same as building a fresh seeded model each time, without
    tracing Keras's train and test functions again for each (1-2 s per trace for a
    recurrent model on 2 cores; the suite traced them four times before).
    """
    train = _prepared(data.sample("train"), feed)
    val = _prepared(data.sample("val"), feed)
    transform = data.transform
    model = _Fresh(config, task, n_classes, train, transform)
    steps = [
        lambda: [initial_loss(model, task, n_classes, train)],
        lambda: [overfit_batch(model, config, train)],
        lambda: [input_independent(model, config, train, val)],
        lambda: baseline_references(config, task, train, val, transform, feed),
    ]
    checks: list[Check] = []
    for done, step in enumerate(steps, 1):
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


class _Fresh:
    """A compiled model that `restart()` puts back to the state it was built in."""

    def __init__(self, config, task, n_classes, train: _Batch, transform):
        keras.utils.set_random_seed(config.seed)
        steps = OVERFIT_STEPS + 2 * SHORT_TRAINING_STEPS  # too few to pay for XLA
        self.model = new_model(config, task, transform, train.stored.y, n_classes, steps)
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
        return self.model


def initial_loss(fresh: _Fresh, task, n_classes, train: _Batch) -> Check:
    model = fresh.restart()
    loss = model.evaluate(make_dataset(train.x, train.y, 256), verbose=0, return_dict=True)["loss"]
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


def overfit_batch(fresh: _Fresh, config, train: _Batch) -> Check:
    rng = np.random.default_rng(config.seed)
    rows = rng.choice(len(train.x), size=min(SMALL_BATCH, len(train.x)), replace=False)
    x, y = train.x[rows], train.y[rows]
    model = fresh.restart()
    losses: list[float] = []
    for _ in range(OVERFIT_STEPS):  # train_on_batch: ~50x less overhead than 1-step epochs
        losses.append(float(model.train_on_batch(x, y, return_dict=True)["loss"]))
        if not math.isfinite(losses[-1]) or losses[-1] < OVERFIT_TARGET:
            break
    first, last, steps = losses[0], losses[-1], len(losses)
    expected = f"< {OVERFIT_TARGET} within {OVERFIT_STEPS} steps"
    if math.isfinite(last) and last < OVERFIT_TARGET:
        return Check(
            "overfit_batch",
            "PASS",
            _round(last),
            expected,
            f"{len(x)} samples memorised in {steps} steps.",
        )
    if math.isfinite(last) and last < 0.9 * first:
        return Check(
            "overfit_batch",
            "WARN",
            _round(last),
            expected,
            f"the loss on {len(x)} samples fell from {first:.3f} but not near zero in {steps} "
            "steps: the model may be too small or too regularised (dropout, l2), or the "
            "learning rate too low.",
        )
    return Check(
        "overfit_batch",
        "FAIL",
        _round(last),
        expected,
        f"the loss on {len(x)} samples did not go down ({first:.3f} → {last:.3f}): training "
        "cannot work as set up. Check the learning rate, the labels and the input scale.",
    )


def input_independent(fresh: _Fresh, config, train: _Batch, val: _Batch) -> Check:
    batch = config.train.batch_size
    steps = min(SHORT_TRAINING_STEPS, 5 * math.ceil(len(train.x) / batch))
    losses = {}
    for name, x in (("real", train.x), ("zeroed", np.zeros_like(train.x))):
        model = fresh.restart()  # both arms start from the same weights
        ds = make_dataset(x, train.y, batch, shuffle=True, seed=config.seed).repeat()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
        x_val = val.x if name == "real" else np.zeros_like(val.x)
        losses[name] = model.evaluate(make_dataset(x_val, val.y, 256), verbose=0, return_dict=True)[
            "loss"
        ]
    real, zeroed = losses["real"], losses["zeroed"]
    detail = f"validation loss after {steps} steps: real inputs {real:.4f}, zeroed {zeroed:.4f}."
    if math.isfinite(real) and real < zeroed - 0.01 * abs(zeroed):
        return Check("input_independent", "PASS", _round(real), f"< {zeroed:.4f}", detail)
    return Check(
        "input_independent",
        "WARN",
        _round(real),
        f"< {zeroed:.4f}",
        detail + " The model does no better with its inputs than without: it is not (yet) "
        "using them. Check that the features carry signal, or train longer.",
    )


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
        task,
        flat_inputs(train.stored.x, transform),
        target_values(train.stored, task, transform, feed),
        config.seed,
    )
    y_val = target_values(val.stored, task, transform, feed)
    if tasks.get(task).reconstructs:
        y_val = val.stored.y
    for name, predictor in baselines.items():
        scores = predictor(flat_inputs(val.stored.x, transform), val.stored.x, feed)
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


def beats_baselines(task: str, model_value: float | None, checks: list[Check]) -> Check:
    """After training: the model's validation headline metric against the baselines'."""
    metric = M.HEADLINE[task]
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


def _round(v) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), 6)
