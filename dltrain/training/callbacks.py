"""Keras callbacks of dltrain: a Rich progress bar and a NaN/Inf guard."""

from __future__ import annotations

import math

import keras

from dltrain import console


class RichProgress(keras.callbacks.Callback):
    """One Rich progress bar over epochs, showing the latest losses and metrics."""

    def __init__(self, epochs: int, description: str = "training"):
        super().__init__()
        self.epochs = epochs
        self.description = description
        self._progress = None
        self._task = None

    def on_train_begin(self, logs=None):
        self._progress = console.progress()
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=self.epochs, metrics="")

    def on_epoch_end(self, epoch, logs=None):
        shown = "  ".join(
            f"{k} {v:.4f}"
            for k, v in (logs or {}).items()
            if isinstance(v, int | float) and k != "learning_rate"
        )
        self._progress.update(self._task, completed=epoch + 1, metrics=shown)

    def on_train_end(self, logs=None):
        if self._progress is not None:
            self._progress.stop()


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first NaN/Inf loss and remembers where it happened."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.where: tuple[int, int] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.where is None:
            self.where = (self.epoch + 1, batch + 1)
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss")
        if loss is not None and not math.isfinite(float(loss)) and self.where is None:
            self.where = (epoch + 1, 0)
            self.model.stop_training = True


class SignalStop(keras.callbacks.Callback):
    """Ends training after the current step once a stop was requested (SIGINT/SIGTERM)."""

    def __init__(self, requested):
        super().__init__()
        self.requested = requested

    def on_train_batch_end(self, batch, logs=None):
        if self.requested():
            self.model.stop_training = True
