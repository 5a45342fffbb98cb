"""What a study tells the person watching it: a listener interface and plain snapshots.

The tuning package prints nothing. `tune` reports to a `Reporter` that the caller
supplies (the CLI's, `dltrain.views.StudyDisplay`, draws a live table of trials with
`dltrain.console`); `Silent` ignores everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from dltrain.tuning.storage import LOST


@dataclass(frozen=True)
class TrialRow:
    """One trial of a study, as a table shows it."""

    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING
    value: float | None
    cv_std: float | None  # the spread over folds (`tune.cv`), if any
    params: dict[str, Any]
    note: str  # why it failed or was pruned (one line), or ""


@dataclass(frozen=True)
class Progress:
    """A study as this worker sees it now (all workers' trials)."""

    study: str
    metric: str
    keys: list[str]  # the tuned config paths, in the order of `tune.space`
    rows: list[TrialRow]  # every trial but the waiting ones, oldest first
    waiting: int
    running: int | None  # the trial this worker runs now, if any


class Reporter(Protocol):
    """Listens to a worker of a study; `dltrain tune` passes one drawn with Rich."""

    def trials_started(self, progress: Progress) -> None:
        """The worker starts taking tickets."""

    def trial_changed(self, progress: Progress) -> None:
        """A trial of this worker started or finished."""

    def trials_ended(self) -> None:
        """The worker takes no more tickets (none left, or it is stopping)."""

    def trials_lost(self, study: str, numbers: list[int]) -> None:
        """Trials left running by a stopped worker were failed and replaced."""

    def plot_failed(self, study: str, filename: str, reason: str) -> None:
        """A plot of the study could not be drawn."""


class Silent:
    """A `Reporter` that ignores everything (for library use and tests)."""

    def trials_started(self, progress: Progress) -> None:
        pass

    def trial_changed(self, progress: Progress) -> None:
        pass

    def trials_ended(self) -> None:
        pass

    def trials_lost(self, study: str, numbers: list[int]) -> None:
        pass

    def plot_failed(self, study: str, filename: str, reason: str) -> None:
        pass


def progress(study, metric: str, keys: list[str], running: int | None = None) -> Progress:
    """A snapshot of the Optuna `study` for a `Reporter`."""
    trials = study.get_trials(deepcopy=False)
    rows = []
    for t in trials:
        if t.state.name == "WAITING":
            continue
        cv = t.user_attrs.get("cv")
        rows.append(
            TrialRow(
                number=t.number,
                state=t.state.name,
                value=t.value,
                cv_std=cv["std"] if cv else None,
                params=dict(t.params),
                note=first_line(why(t)),
            )
        )
    waiting = sum(t.state.name == "WAITING" for t in trials)
    return Progress(study.study_name, metric, keys, rows, waiting, running)


def why(trial) -> str | None:
    """Why a trial failed or was pruned; a trial failed by Optuna's heartbeat check has no
    reason of its own, but its replacement says which trial it replaces."""
    reason = trial.user_attrs.get("fail_reason")
    return LOST if reason is None and trial.state.name == "FAIL" else reason


def first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""
