"""The training loop: Keras's compiled train step, driven so that it can resume exactly.

`model.fit` cannot resume in the middle of an epoch, and its shuffle order is
lost with the process. Here the order of epoch e is a pure function of
(seed, e), batches are counted, and every piece of state lives either in a
Keras variable (saved by `checkpoint.save`) or in `LoopState` (saved as JSON
beside them). Resuming from a checkpoint at (epoch, step) replays nothing and
skips nothing: weights and history come out bit-identical to an uninterrupted
run (op determinism on).

Without validation (`validate=False`: a run trained on train+val, see
`dltrain.training.refit`) every epoch runs, nothing is validated or stopped early, and
the model kept (`best.keras`) is the last epoch's.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dltrain import runs
from dltrain.config import ExperimentConfig
from dltrain.data import stream
from dltrain.data.cache import Processed
from dltrain.errors import DivergedError
from dltrain.training import checkpoint, distribute, stages
from dltrain.training.events import SILENT, Listener
from dltrain.training.setup import monitor_of


@dataclass
class LoopState:
    """Where training is: the next (epoch, step), the history so far, early stopping."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    history: list[dict] = field(default_factory=list)
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0
    stopped_early: bool = False


def run(
    model,
    config: ExperimentConfig,
    data: Processed,
    feed,
    run_dir: Path,
    stop,
    state: LoopState,
    on_epoch=None,
    listener: Listener = SILENT,
    validate: bool = True,
) -> LoopState:
    """Trains from `state` until the last epoch or early stopping; returns the final state.

    Args:
        model: the compiled model (its state already restored when resuming).
        config: the experiment.
        data: the processed dataset; training batches stream from its shards.
        feed: the `Feeder` that makes (x, y[, sample_weight]) batches from stored ones.
        run_dir: the run folder (history.csv, checkpoints/).
        stop: the `StopSignals` of the run; a signal ends the loop after the current step,
            with a checkpoint.
        state: where to start.
        on_epoch: called as `on_epoch(epoch, row, seconds)` with each epoch's history row
            and the seconds its training steps took (validation and checkpoints excluded),
            before the best model and the checkpoint are saved (e.g. a tuning trial
            reporting to its pruner; it may raise to stop). Defaults to None.
        listener: told of each epoch and step (the CLI renders progress). Defaults to
            `SILENT`.
        validate: score the val split after each epoch, keep the best epoch's model and
            stop early as configured. False: no validation, every epoch runs, and the last
            epoch's model is kept. Defaults to True.

    Raises:
        DivergedError: a NaN/Inf loss (exit 5); no checkpoint is written from that state.
        KeyboardInterrupt/Terminated: after a signal, once the checkpoint is saved.
    """
    loop = _Loop(model, config, data, feed, run_dir, stop, state, on_epoch, listener, validate)
    listener.epochs(run_dir.name, config.train.epochs, state.epoch)
    stop.fitting = True
    try:
        while state.epoch < config.train.epochs and not state.stopped_early:
            loop.epoch()
    finally:
        stop.fitting = False
        listener.trained()
    return state


class _Loop:
    """The parts of one training run the epochs share (see `run`)."""

    def __init__(
        self, model, config, data, feed, run_dir, stop, state, on_epoch, listener, validate
    ):
        self.model, self.config, self.data, self.feed = model, config, data, feed
        self.run_dir, self.stop, self.state = run_dir, stop, state
        self.on_epoch, self.listener = on_epoch, listener
        self.monitor, self.mode = monitor_of(config, feed.task)
        self.batch = config.train.batch_size
        self.steps_per_epoch = stream.steps(data, "train", self.batch)
        self.dist = distribute.current()  # distributed: batches split across replicas
        self.validate = validate
        if validate:
            self.val_steps = stream.split_steps(data, "val", self.batch)
            self.val_ds = self.dist.prepare(
                stream.dataset(
                    lambda: stream.split_batches(data, "val", self.batch, feed.eval_batch),
                    feed.specs(),
                )
            )
        self.per_call = int(model.steps_per_execution)
        model.make_train_function()
        self.best_path = run_dir / "checkpoints" / "best.keras"

    def save_state(self) -> None:
        checkpoint.save(self.run_dir, self.model, asdict(self.state))

    def epoch(self) -> None:
        """One epoch (or the rest of one): steps, validation, best model, checkpoint."""
        state = self.state
        stage = stages.apply(self.model, self.config, state.epoch)  # train.fine_tune, else 0
        if state.step == 0:
            self.model.reset_metrics()  # mid-epoch, the restored accumulators carry on
        batches = self.batches()
        started = time.perf_counter()
        self.train_steps(batches)
        seconds = time.perf_counter() - started
        row = self.validated(stage)
        state.history.append(row)
        _write_history(self.run_dir / "history.csv", state.history)
        if self.on_epoch is not None:
            self.on_epoch(state.epoch, row, seconds)
        if self.validate:
            self.keep_best(row[self.monitor])
        else:
            self.keep_last(row["loss"])
        state.epoch += 1
        state.step = 0
        self.save_state()
        rate = _learning_rate(self.model)
        if rate is not None:
            self.listener.learning_rate(state.epoch - 1, rate)
        self.listener.epoch(state.epoch - 1, row, seconds)
        if self.dist.stopping(self.stop):
            self.stop.check()

    def batches(self):
        """The training batches of the current epoch from its current step on."""
        weighted = self.feed.weights is not None
        epoch, start = self.state.epoch, self.state.step
        return self.dist.iterator(
            stream.dataset(
                lambda e=epoch, s=start: stream.epoch_batches(
                    self.data, self.config.seed, e, s, self.batch, self.feed.fit_batch
                ),
                self.feed.specs(weighted),
            )
        )

    def train_steps(self, batches) -> None:
        """Runs the epoch's remaining steps, `per_call` at a time (steps_per_execution)."""
        state, tc = self.state, self.config.train
        while state.step < self.steps_per_epoch:
            done = min(self.per_call, self.steps_per_epoch - state.step)
            logs = self.model.train_function(batches)
            loss = float(logs["loss"])
            if not math.isfinite(loss):
                raise _diverged(self.config, state.epoch + 1, state.step + 1, self.run_dir, done)
            state.step += done
            before = state.global_step
            state.global_step += done
            if self.dist.stopping(self.stop):  # distributed: all workers stop together
                self.save_state()
                self.stop.check()
            if (
                tc.checkpoint_every
                and before // tc.checkpoint_every != state.global_step // tc.checkpoint_every
                and state.step < self.steps_per_epoch
            ):
                self.save_state()
            self.listener.steps(state.epoch, state.step, self.steps_per_epoch)

    def validated(self, stage: int) -> dict:
        """The epoch's history row: training metrics, then validation (all replicas) unless
        the run validates on nothing."""
        row = {"epoch": self.state.epoch}
        if stage:
            row["stage"] = stage
        row.update({k: float(v) for k, v in self.model.get_metrics_result().items()})
        if not self.validate:
            return row
        val_logs = self.dist.evaluate(self.model, self.val_ds, self.val_steps)
        row.update({f"val_{k}": float(v) for k, v in val_logs.items()})
        if not math.isfinite(row["val_loss"]):
            raise _diverged(self.config, self.state.epoch + 1, 0, self.run_dir)
        return row

    def keep_best(self, current: float) -> None:
        """Saves best.keras when the monitor improved; counts the epochs since it did."""
        state, es = self.state, self.config.train.early_stopping
        min_delta = es.min_delta if es else 0.0
        improved = state.best is None or (
            current < state.best - min_delta
            if self.mode == "min"
            else current > state.best + min_delta
        )
        if improved:
            state.best, state.best_epoch, state.wait = current, state.epoch, 0
            checkpoint.save_model(self.model, self.best_path)
        else:
            state.wait += 1
            if es is not None and state.wait >= es.patience:
                state.stopped_early = True

    def keep_last(self, loss: float) -> None:
        """Without validation: after the last epoch, its model is the one kept (best.keras),
        recorded as the best epoch so that resuming and checkpoints treat it as such."""
        state = self.state
        if state.epoch + 1 == self.config.train.epochs:
            state.best, state.best_epoch = loss, state.epoch
            checkpoint.save_model(self.model, self.best_path)


def _diverged(
    config: ExperimentConfig, epoch: int, step: int, run_dir: Path, steps: int = 1
) -> DivergedError:
    """`steps` > 1: the non-finite loss came from one of the steps `step`..`step + steps - 1`,
    run in one call (steps_per_execution); the loss is only read after the call."""
    if not step:
        place = f"epoch {epoch} (validation)"
    elif steps == 1:
        place = f"epoch {epoch}, step {step}"
    else:
        place = f"epoch {epoch}, in steps {step}-{step + steps - 1}"
    good = checkpoint.last_good(run_dir)
    kept = f" The last finite checkpoint is {good}." if good else ""
    return DivergedError(
        f"the loss became NaN or infinite at {place}. Lower train.optimizer.learning_rate "
        f"(now {config.train.optimizer.learning_rate}), check the data for extreme values, "
        f"or add batch_norm.{kept}"
    )


def _learning_rate(model) -> float | None:
    """The optimiser's current learning rate (a schedule's value now), for the listener."""
    try:
        return float(model.optimizer.learning_rate.numpy())
    except (AttributeError, TypeError, ValueError):
        return None


def _write_history(path: Path, history: list[dict]) -> None:
    keys = ["epoch"] + sorted({k for row in history for k in row} - {"epoch"})
    lines = [",".join(keys)]
    lines += [",".join(repr(row.get(k, "")) for k in keys) for row in history]
    runs.atomic_write_text(path, "\n".join(lines) + "\n")
