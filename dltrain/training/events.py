"""What training tells whoever watches it: phases, progress, epochs, why it stopped, results.

Library code never prints. The training loop, the session, resume, the report and the
tuning study call a `Listener`; the CLI passes one that renders with Rich
(`dltrain.display.TrainingDisplay`), a run adds its recorders (`dltrain.tracking`:
TensorBoard, MLflow) with `Fanout`, and tests and library callers may pass `Listener()`,
which ignores everything.

The order of a training run's events:

    phase("preprocess") → dataset(...) → run_started(...) → phase("sanity") → progress(...)*
    → phase("train") → epochs(...) → [steps(...)* → learning_rate(...) → epoch(...)]*
    → trained() → stopped(...) → phase("test") → tested(...) → phase("report")
    → progress(...)* → finished(...)

`info` and `warn` may come at any time. A run that fails or is interrupted ends without
`stopped`, `tested` or `finished`; `trained` is always told once training began.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Listener:
    """Receives a run's events; every method does nothing unless overridden."""

    def phase(self, name: str, detail: str = "") -> None:
        """A phase begins: "preprocess", "sanity", "train", "test", "report", ...; `detail`
        says what it does in a few words."""

    def progress(self, done: int, total: int, detail: str = "") -> None:
        """`done` of the current phase's `total` steps are finished (sanity checks, plots);
        `detail` names the step just finished, e.g. "initial_loss PASS"."""

    def dataset(self, manifest: dict, path: Path, hit: bool) -> None:
        """The processed dataset is ready: its manifest (splits, audit), its cache folder and
        whether it came from the cache."""

    def run_started(self, run_dir: Path, config: Any) -> None:
        """The run folder `run_dir` is set up (config.yaml written) for the experiment
        `config` (an `ExperimentConfig`); training begins or resumes."""

    def epochs(self, run: str, total: int, done: int) -> None:
        """Training begins (or resumes) with `done` of `total` epochs finished."""

    def steps(self, epoch: int, done: int, total: int) -> None:
        """`done` of the epoch's `total` training steps are finished."""

    def learning_rate(self, epoch: int, value: float) -> None:
        """The optimiser's learning rate at the end of epoch `epoch` (0-based)."""

    def epoch(self, epoch: int, row: dict, seconds: float) -> None:
        """Epoch `epoch` (0-based) ended with the history row `row`."""

    def stopped(self, stopping: dict) -> None:
        """Training ended normally: why, and which epoch was kept (a
        `dltrain.training.stopping.describe` record, with its `message`)."""

    def trained(self) -> None:
        """Training ended (last epoch, early stopping or a signal)."""

    def tested(self, results: dict) -> None:
        """The kept model was scored on test: metrics.json's content."""

    def finished(self, run_dir: Path) -> None:
        """The run is complete: its model, metrics, plots and report.html are written."""

    def info(self, message: str) -> None:
        """Something the user should read."""

    def warn(self, message: str) -> None:
        """Something the user should act on."""


SILENT = Listener()
EVENTS = tuple(name for name in vars(Listener) if not name.startswith("_"))


class Fanout(Listener):
    """Tells several listeners every event, in order (e.g. the display, then the recorders).

    Args:
        *listeners: the listeners; None entries are skipped.
    """

    def __init__(self, *listeners: Listener | None):
        self.listeners = [one for one in listeners if one is not None]


def _forward(name: str):
    def method(self, *args, **kwargs):
        for one in self.listeners:
            getattr(one, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = getattr(Listener, name).__doc__
    return method


for _name in EVENTS:
    setattr(Fanout, _name, _forward(_name))
