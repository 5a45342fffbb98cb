"""A run's life in status.json: running through its phases, then how it ended.

`guarded(run_dir)` records the run as running and, whatever ends it, how: completed (by
the caller), failed, diverged, or interrupted by Ctrl-C (exit 130) or SIGTERM (exit 143).
`StopSignals` turns SIGINT/SIGTERM into a request the training loop honours at the end
of the current step, so nothing is interrupted inside TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from dltrain import records
from dltrain.errors import DivergedError, DltrainError, InterruptedRun, RunError, SanityError
from dltrain.training import checkpoint

PHASES = ("setup", "sanity", "training", "testing", "report", "done")
"""What a run is doing, in status.json's `phase`: `resume` continues from any of them, and
`dltrain report` finishes a run stopped in "report" (its results are all written)."""


class Terminated(KeyboardInterrupt):
    """Raised for SIGTERM so that it is handled like Ctrl-C."""


class StopSignals:
    """SIGINT/SIGTERM handling for the length of a run.

    While the model is fitting (`fitting` is True), a signal only sets `received`: the
    loop ends training after the current step, so the step finishes and nothing is
    interrupted inside TensorFlow. Outside fitting, or on a second signal, it raises at
    once (Terminated for SIGTERM, KeyboardInterrupt for SIGINT).
    """

    def __init__(self):
        self.received: int | None = None
        self.fitting = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.fitting and self.received is None:
            self.received = signum
            return
        self.received = signum
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    def check(self) -> None:
        """Raises the pending signal's exception, once fitting has stopped for it."""
        if self.received is not None:
            raise Terminated() if self.received == signal.SIGTERM else KeyboardInterrupt()


def phase(run_dir: Path, name: str, **extra) -> None:
    """Records that the run has entered phase `name` (one of `PHASES`), with `extra` fields
    (e.g. `stopping`: why training stopped)."""
    records.set_status(run_dir, "running", phase=name, **extra)


@contextlib.contextmanager
def guarded(run_dir: Path):
    """Records how a run ends in status.json and turns signals into exit codes 130/143.

    Yields the `StopSignals` that the training loop watches. When status.json itself
    cannot be written (a full disk), the run's own error is still the one reported.
    """
    run_id = run_dir.name
    records.set_status(run_dir, "running", pid=os.getpid())
    try:
        with StopSignals() as stop:
            yield stop
    except SanityError as exc:
        _record_end(run_dir, "failed", str(exc))
        raise
    except DivergedError as exc:
        _record_end(run_dir, "diverged", str(exc))
        raise
    except (Terminated, KeyboardInterrupt) as exc:
        how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
        _record_end(run_dir, "interrupted", f"stopped by {how}")
        if (run_dir / "config.yaml").is_file():
            what = f"continue it exactly with `dltrain resume {run_id}`"
        else:  # stopped while the run folder was being set up: nothing to continue
            what = "nothing was trained yet; start it again with the same command"
        raise InterruptedRun(
            f"run {run_id} stopped by {how}; {what}",
            signal_exit_code=143 if isinstance(exc, Terminated) else 130,
        ) from None
    except RunError as exc:  # a write failed (a full disk?) or a file of the run is damaged
        _record_end(run_dir, "failed", str(exc))
        raise _resumable(exc, run_dir) from None
    except DltrainError as exc:
        _record_end(run_dir, "failed", str(exc))
        raise
    except BaseException as exc:
        _record_end(run_dir, "failed", f"{type(exc).__name__}: {exc}")
        raise


def _record_end(run_dir: Path, status: str, message: str) -> None:
    """status.json says how the run ended, when it can be written at all."""
    with contextlib.suppress(RunError, OSError):
        records.set_status(run_dir, status, message=message)


def _resumable(exc: RunError, run_dir: Path) -> RunError:
    """A file-system error during a run, with the last good checkpoint and the command that
    continues the run (unless the message already says how)."""
    if "dltrain resume" in exc.message or not (run_dir / "config.yaml").is_file():
        return exc
    good = checkpoint.last_good(run_dir)
    kept = f" The last good checkpoint is {good}." if good else " No checkpoint was written yet."
    return RunError(
        f"{exc.message.rstrip('.')}.{kept} Once the cause is fixed (e.g. space freed), "
        f"continue the run with `dltrain resume {run_dir.name}`",
        where=exc.where,
        details=exc.details,
    )
