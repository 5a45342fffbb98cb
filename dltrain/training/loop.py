"""The training loop: Keras's compiled train step, driven so that it can resume exactly.

`model.fit` cannot resume in the middle of an epoch, and its shuffle order is
lost with the process. Here the order of epoch e is a pure function of
(seed, e), batches are counted, and every piece of state lives either in a
Keras variable (saved by `checkpoint.save`) or in `LoopState` (saved as JSON
beside them). Resuming from a checkpoint at (epoch, step) replays nothing and
skips nothing: weights and history come out bit-identical to an uninterrupted
run (op determinism on).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dltrain import console, runs
from dltrain.config import ExperimentConfig
from dltrain.data import stream
from dltrain.data.cache import Processed
from dltrain.errors import DivergedError
from dltrain.training import checkpoint, distribute, stages
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

    Raises:
        DivergedError: a NaN/Inf loss (exit 5); no checkpoint is written from that state.
        KeyboardInterrupt/Terminated: after a signal, once the checkpoint is saved.
    """
    tc = config.train
    monitor, mode = monitor_of(config, feed.task)
    es = tc.early_stopping
    min_delta = es.min_delta if es else 0.0
    batch = tc.batch_size
    steps_per_epoch = stream.steps(data, "train", batch)
    weighted = feed.weights is not None
    val_steps = stream.split_steps(data, "val", batch)
    dist = distribute.current()  # distributed: batches split across replicas
    val_ds = dist.prepare(
        stream.dataset(
            lambda: stream.split_batches(data, "val", batch, feed.eval_batch), feed.specs()
        )
    )
    per_call = int(model.steps_per_execution)
    model.make_train_function()
    best_path = run_dir / "checkpoints" / "best.keras"

    def save_state() -> None:
        checkpoint.save(run_dir, model, asdict(state))

    with console.progress() as progress:
        task_id = progress.add_task(
            run_dir.name, total=tc.epochs, completed=state.epoch, metrics=""
        )
        stop.fitting = True
        while state.epoch < tc.epochs and not state.stopped_early:
            stage = stages.apply(model, config, state.epoch)  # train.fine_tune, else 0
            if state.step == 0:
                model.reset_metrics()  # mid-epoch, the restored accumulators carry on
            epoch, start = state.epoch, state.step
            batches = dist.iterator(
                stream.dataset(
                    lambda e=epoch, s=start: stream.epoch_batches(
                        data, config.seed, e, s, batch, feed.fit_batch
                    ),
                    feed.specs(weighted),
                )
            )
            started = time.perf_counter()
            while state.step < steps_per_epoch:
                # one call runs up to `per_call` steps inside TensorFlow (steps_per_execution)
                done = min(per_call, steps_per_epoch - state.step)
                logs = model.train_function(batches)
                loss = float(logs["loss"])
                if not math.isfinite(loss):
                    raise _diverged(config, state.epoch + 1, state.step + 1, run_dir, done)
                state.step += done
                before = state.global_step
                state.global_step += done
                if dist.stopping(stop):  # distributed: all workers stop at the same step
                    save_state()
                    stop.check()
                if (
                    tc.checkpoint_every
                    and before // tc.checkpoint_every != state.global_step // tc.checkpoint_every
                    and state.step < steps_per_epoch
                ):
                    save_state()
            seconds = time.perf_counter() - started
            row = {"epoch": state.epoch}
            if stage:
                row["stage"] = stage
            row.update({k: float(v) for k, v in model.get_metrics_result().items()})
            val_logs = dist.evaluate(model, val_ds, val_steps)  # distributed: all replicas
            row.update({f"val_{k}": float(v) for k, v in val_logs.items()})
            if not math.isfinite(row["val_loss"]):
                raise _diverged(config, state.epoch + 1, 0, run_dir)
            state.history.append(row)
            _write_history(run_dir / "history.csv", state.history)
            if on_epoch is not None:
                on_epoch(state.epoch, row, seconds)
            current = row[monitor]
            if state.best is None or (
                current < state.best - min_delta
                if mode == "min"
                else current > state.best + min_delta
            ):
                state.best, state.best_epoch, state.wait = current, state.epoch, 0
                checkpoint.save_model(model, best_path)
            else:
                state.wait += 1
                if es is not None and state.wait >= es.patience:
                    state.stopped_early = True
            state.epoch += 1
            state.step = 0
            save_state()
            shown = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch")
            progress.update(task_id, completed=state.epoch, metrics=shown)
            if dist.stopping(stop):
                stop.check()
        stop.fitting = False
    return state


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


def _write_history(path: Path, history: list[dict]) -> None:
    keys = ["epoch"] + sorted({k for row in history for k in row} - {"epoch"})
    lines = [",".join(keys)]
    lines += [",".join(repr(row.get(k, "")) for k in keys) for row in history]
    runs.atomic_write_text(path, "\n".join(lines) + "\n")
