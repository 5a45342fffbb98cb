"""TensorBoard event files of a run, in `runs/<id>/logs/`, written with `tf.summary`.

The layout is the one Keras's own TensorBoard callback writes, so the curves of training and
validation overlay and `tensorboard --logdir runs` lists every run side by side:

    logs/train/       epoch_loss, epoch_<metric>, epoch_learning_rate, epoch_seconds
    logs/validation/  epoch_loss, epoch_<metric>           (the history's val_* columns)
    logs/test/        test/<metric>, test/<metric>_low, test/<metric>_high (95% CI),
                      baselines/<name>/<metric>, and the stopping sentence as text

Steps are 1-based epochs (the test values at the kept epoch). A resumed run appends to
the same folders. The summaries are written with `tf.summary.write` and the scalar and
text plugins' metadata, so the `tensorboard` package is needed only to look at them
(`pip install tensorboard`), not to write them.
"""

from __future__ import annotations

import functools
from pathlib import Path

from dltrain.training.events import Listener

SPLITS = {"train": "train", "val": "validation", "test": "test"}


def _safely(method):
    """A failed write (a full disk) warns once and stops recording; the run goes on."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.broken:
            return
        try:
            method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a record is not worth a failed run
            self.broken = True
            self.warn(f"TensorBoard logging in {self.dir} stopped: {exc}")

    return wrapper


class TensorBoard(Listener):
    """Writes a run's per-epoch and test scalars as TensorBoard event files.

    Args:
        folder: the run's `logs/` folder.
        warn: told (once) when writing fails.
    """

    def __init__(self, folder: Path, warn):
        self.dir = Path(folder)
        self.warn = warn
        self.broken = False
        self._writers: dict = {}
        self._kept: int | None = None

    def _writer(self, split: str):
        import tensorflow as tf

        if split not in self._writers:
            self._writers[split] = tf.summary.create_file_writer(str(self.dir / SPLITS[split]))
        return self._writers[split]

    def _scalars(self, split: str, values: dict, step: int) -> None:
        import tensorflow as tf

        writer = self._writer(split)
        with writer.as_default(step=step):
            for tag, value in values.items():
                if value is not None:
                    tf.summary.write(
                        tag, tf.constant(float(value), tf.float32), metadata=_plugin("scalars")
                    )
        writer.flush()  # `tensorboard` sees each epoch as it ends

    @_safely
    def learning_rate(self, epoch: int, value: float) -> None:
        self._scalars("train", {"epoch_learning_rate": value}, epoch + 1)

    @_safely
    def epoch(self, epoch: int, row: dict, seconds: float) -> None:
        train, val = {"epoch_seconds": seconds}, {}
        for key, value in row.items():
            if key in ("epoch", "stage"):
                continue
            if key.startswith("val_"):
                val[f"epoch_{key.removeprefix('val_')}"] = value
            else:
                train[f"epoch_{key}"] = value
        self._scalars("train", train, epoch + 1)
        if val:
            self._scalars("val", val, epoch + 1)

    @_safely
    def stopped(self, stopping: dict) -> None:
        import tensorflow as tf

        self._kept = stopping.get("best_epoch")
        writer = self._writer("test")
        with writer.as_default(step=stopping.get("epochs") or 0):
            tf.summary.write("stopping", tf.constant(stopping["message"]), metadata=_plugin("text"))
        writer.flush()

    @_safely
    def tested(self, results: dict) -> None:
        step = self._kept or 0
        values = {}
        for name, m in (results.get("test") or {}).items():
            values.update(_with_interval(f"test/{name}", m))
        for baseline, table in (results.get("baselines") or {}).items():
            for name, m in table.items():
                values[f"baselines/{baseline}/{name}"] = m.get("value")
        self._scalars("test", values, step)

    def close(self, ending: str) -> None:
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - closing a broken writer must not hide the run's own error
                pass
        self._writers = {}


def _plugin(name: str):
    """The summary metadata that tells TensorBoard which plugin shows a value."""
    from tensorflow.core.framework import summary_pb2

    data = summary_pb2.SummaryMetadata.PluginData(plugin_name=name)
    return summary_pb2.SummaryMetadata(plugin_data=data)


def _with_interval(tag: str, m: dict) -> dict:
    return {tag: m.get("value"), f"{tag}_low": m.get("low"), f"{tag}_high": m.get("high")}
