"""The training display: what `train`, `resume` and `check` show while they work.

`TrainingDisplay` is the `dltrain.training.events.Listener` the CLI passes. It draws with
`dltrain.console` in one of two ways:

- on a terminal, a live Rich progress area at the bottom (the phase with a spinner and its
  elapsed time; during training an epoch bar and a batch bar, each with its ETA), with the
  lines that matter printed above it: each phase as it ends, each sanity check, each
  epoch's metrics on their own line (wrapped, never cut), why training stopped;
- anywhere else (a pipe, a log file, CI), plain lines flushed one at a time: one per
  phase, one per sanity check, one per epoch with its metrics, elapsed time and ETA, and
  a progress line every `PLAIN_STEP_SECONDS` inside a long epoch, so `tail -f` follows.

Every line of an event starts with the time since the command started, `[m:ss]`.
"""

from __future__ import annotations

import time

from dltrain import console, views
from dltrain.training.events import Listener

PLAIN_STEP_SECONDS = 30.0  # a long epoch's progress line in a log, at most this often
PHASES = {
    "startup": "startup",
    "preprocess": "preprocess",
    "model": "model",
    "sanity": "sanity suite",
    "train": "training",
    "test": "testing",
    "report": "report",
}


def clock(seconds: float) -> str:
    """ "0:07", "12:34", "1:02:03"."""
    seconds = int(max(0, round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def metrics_line(row: dict) -> str:
    """ "train loss 0.6701 auc 0.5706 · val loss 0.6102 auc 0.6100" from a history row (the
    validation values in the order of the training ones)."""
    names = [k for k in row if k not in ("epoch", "stage") and not k.startswith("val_")]
    names += [k[4:] for k in row if k.startswith("val_") and k[4:] not in names]
    train = [f"{k} {row[k]:.4f}" for k in names if k in row]
    val = [f"{k} {row[f'val_{k}']:.4f}" for k in names if f"val_{k}" in row]
    parts = [f"train {' '.join(train)}"] if train else []
    parts += [f"val {' '.join(val)}"] if val else []
    if row.get("stage"):
        parts.append(f"stage {row['stage']}")
    return " · ".join(parts)


class TrainingDisplay(Listener):
    """Renders a run's events; use it as a context manager so the live area always closes.

    Args:
        stderr: draw on standard error (standard output is kept for `--json`). Defaults
            to False.
        summaries: show the data summary and leakage audit when the data is ready.
            Defaults to True.
    """

    def __init__(self, *, stderr: bool = False, summaries: bool = True):
        self.stderr, self.summaries = stderr, summaries
        self.live = console.is_live(console.err if stderr else console.out)
        self.started = time.monotonic()
        self._progress = None
        self._tasks: dict[str, int] = {}
        self._phase: tuple[str, float] | None = None
        self._epochs: tuple[int, int, float] | None = None  # total, done at start, when
        self._first_epoch_end: float | None = None  # the ETA leaves out the first (tracing)
        self._last_step_line = 0.0
        self._batch_epoch: int | None = None

    # --- the live area ---------------------------------------------------------------------

    def __enter__(self) -> TrainingDisplay:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Ends the current phase and removes the live area (idempotent)."""
        self._end_phase()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._tasks = {}

    def _task(self, key: str, description: str, total: float | None, **fields) -> int:
        if self._progress is None:
            self._progress = console.progress(stderr=self.stderr)
            self._progress.start()
        fields = {"count": "", "eta": "", **fields}
        if key in self._tasks:
            self._progress.reset(self._tasks[key], total=total, description=description, **fields)
        else:
            self._tasks[key] = self._progress.add_task(description, total=total, **fields)
        return self._tasks[key]

    def _drop(self, key: str) -> None:
        if self._progress is not None and key in self._tasks:
            self._progress.remove_task(self._tasks.pop(key))

    def _line(self, text: str, markup: bool = False) -> None:
        stamp = f"[{clock(time.monotonic() - self.started)}]"
        console.line(
            f"{_escape(stamp) if markup else stamp} {text}", stderr=self.stderr, markup=markup
        )

    # --- events ----------------------------------------------------------------------------

    def phase(self, name: str, detail: str = "") -> None:
        self._end_phase()
        self._phase = (name, time.monotonic())
        shown = PHASES.get(name, name)
        if self.live:
            self._task("phase", shown, None)
            if detail:
                self._line(f"[bold]{_escape(shown)}[/]: {_escape(detail)}", markup=True)
        else:
            self._line(f"{shown}: {detail}" if detail else shown)

    def _end_phase(self) -> None:
        if self._phase is None:
            return
        name, began = self._phase
        self._phase = None
        if self.live:
            self._drop("phase")
            took = time.monotonic() - began
            self._line(f"[green]✓[/] {_escape(PHASES.get(name, name))} ({took:.1f} s)", markup=True)

    def progress(self, done: int, total: int, detail: str = "") -> None:
        name = PHASES.get(self._phase[0], self._phase[0]) if self._phase else "progress"
        if self.live and "phase" in self._tasks:
            self._progress.update(
                self._tasks["phase"],
                total=total or None,
                completed=done,
                count=f"{done}/{total}" if total else str(done),
            )
        if detail and self._phase and self._phase[0] != "report":  # plots: the bar only
            self._line(f"{name} {done}/{total}: {detail}" if total else f"{name}: {detail}")

    def dataset(self, manifest: dict, path, hit: bool) -> None:
        if self.summaries:
            views.dataset(manifest, path, hit)

    def run_started(self, run_dir, config) -> None:
        self._line(f"run {run_dir.name}: {run_dir}")

    def epochs(self, run: str, total: int, done: int) -> None:
        self._epochs = (total, done, time.monotonic())
        self._last_step_line = time.monotonic()
        if done:
            self._line(f"training {run}: epoch {done + 1} of {total}")
        if self.live:
            self._task("epoch", "epoch", total, count=f"{done}/{total}", completed=done)

    def steps(self, epoch: int, done: int, total: int) -> None:
        if self.live:
            if "batch" not in self._tasks or self._batch_epoch != epoch:  # a new epoch
                self._task("batch", "batch", total)
                self._batch_epoch = epoch
            key = self._tasks["batch"]
            self._progress.update(key, completed=done, total=total, count=f"{done}/{total}")
            task = next(t for t in self._progress.tasks if t.id == key)
            self._progress.update(key, eta=_eta(task))
            return
        now = time.monotonic()
        if now - self._last_step_line >= PLAIN_STEP_SECONDS and done < total:
            self._last_step_line = now
            self._line(f"epoch {epoch + 1}: batch {done}/{total}")

    def epoch(self, epoch: int, row: dict, seconds: float) -> None:
        total, start, began = self._epochs or (epoch + 1, 0, self.started)
        done, now = epoch + 1, time.monotonic()
        if self._first_epoch_end is None or done - start < 2:
            self._first_epoch_end = now
            per_epoch = now - began
        else:  # the first epoch traces the model: a poor guide to the others
            per_epoch = (now - self._first_epoch_end) / (done - start - 1)
        eta = clock(per_epoch * (total - done))
        width = len(str(total))
        head = f"epoch {done:>{width}}/{total}"
        tail = f"({seconds:.1f} s; eta {eta})" if done < total else f"({seconds:.1f} s)"
        if self.live:
            self._line(
                f"[bold]{head}[/]  {_escape(metrics_line(row))}  [dim]{tail}[/]", markup=True
            )
            if "epoch" not in self._tasks:  # (resumed displays tell `epochs` first)
                self._task("epoch", "epoch", total)
            self._progress.update(
                self._tasks["epoch"],
                completed=done,
                count=f"{done}/{total}",
                eta=f"eta {eta}" if done < total else "",
            )
        else:
            self._line(f"{head}  {metrics_line(row)}  {tail}")
        self._last_step_line = time.monotonic()

    def trained(self) -> None:
        self._drop("batch")
        self._drop("epoch")

    def stopped(self, stopping: dict) -> None:
        self._line(f"Training {stopping['message']}.")

    def info(self, message: str) -> None:
        self._line(message)

    def warn(self, message: str) -> None:
        console.warn(message)


def _eta(task) -> str:
    remaining = task.time_remaining
    return "" if remaining is None else f"eta {clock(remaining)}"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
