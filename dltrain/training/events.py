"""What training tells whoever watches it: phases, epochs, steps, warnings.

Library code never prints. The training loop, the session, resume and the tuning study
call a `Listener`; the CLI passes one that renders with Rich (`dltrain.console`), tests
and library callers may pass `Listener()`, which ignores everything.
"""

from __future__ import annotations


class Listener:
    """Receives a run's events; every method does nothing unless overridden."""

    def phase(self, name: str, detail: str = "") -> None:
        """A phase begins: "preprocess", "sanity", "train", "test", "report", ..."""

    def epochs(self, run: str, total: int, done: int) -> None:
        """Training begins (or resumes) with `done` of `total` epochs finished."""

    def steps(self, epoch: int, done: int, total: int) -> None:
        """`done` of the epoch's `total` training steps are finished."""

    def epoch(self, epoch: int, row: dict, seconds: float) -> None:
        """Epoch `epoch` (0-based) ended with the history row `row`."""

    def trained(self) -> None:
        """Training ended (last epoch, early stopping or a signal)."""

    def info(self, message: str) -> None:
        """Something the user should read."""

    def warn(self, message: str) -> None:
        """Something the user should act on."""


SILENT = Listener()
