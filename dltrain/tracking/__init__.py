"""Records of a run that other tools read: TensorBoard event files, and an MLflow run.

Every run writes TensorBoard event files into `runs/<id>/logs/` (`tensorboard --logdir runs`
shows all runs side by side); a config with `track: {mlflow: {uri: ...}}` also logs to
MLflow (the `[mlflow]` extra). Both are `dltrain.training.events.Listener`s: `recording`
adds them to a session's listener for the length of a run, so library code still only
tells events and never knows who records them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from dltrain.training.events import Fanout, Listener

__all__ = ["check", "recorders", "recording"]


def check(config) -> None:
    """Refuses, before any run exists, a tracker the config names but cannot be used (the
    `[mlflow]` extra not installed: a `ConfigError` naming it)."""
    if config.track.mlflow is not None:
        from dltrain.tracking.mlflow import require

        require(config)


def recorders(config, run_dir: Path, warn) -> list[Listener]:
    """The recorders of one run: TensorBoard (when `track.tensorboard`), then MLflow (when
    `track.mlflow` is set). `warn` is told when a recorder fails and stops recording."""
    found: list[Listener] = []
    if config.track.tensorboard:
        from dltrain.tracking.tensorboard import TensorBoard

        found.append(TensorBoard(Path(run_dir) / "logs", warn))
    if config.track.mlflow is not None:
        from dltrain.tracking.mlflow import MLflowRun

        found.append(MLflowRun(config.track.mlflow, Path(run_dir), warn))
    return found


@contextlib.contextmanager
def recording(session, run_dir: Path, enabled: bool = True):
    """Adds the run's recorders to `session.listener` while the block runs, then closes them
    with how the run ended (finished, failed, or killed by a signal).

    Args:
        session: the run's `Session` (its `config` and `listener`).
        run_dir: the run folder.
        enabled: False records nothing (distributed: only the chief records).
    """
    outer = session.listener
    found = recorders(session.config, run_dir, outer.warn) if enabled else []
    session.listener = Fanout(outer, *found) if found else outer
    ending = "failed"
    try:
        yield session.listener
        ending = "finished"
    except KeyboardInterrupt:
        ending = "killed"
        raise
    finally:
        session.listener = outer
        for recorder in found:
            recorder.close(ending)
