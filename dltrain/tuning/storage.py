"""The study database, and the one adapter to Optuna's internals.

The study lives in a database: by default `runs/<study>/study.db` (SQLite, nothing to
start); a PostgreSQL (or MySQL) URL lets several `dltrain tune` processes, on one or many
machines, work on one study. The trials of a study are tickets (`Tickets`): the study
records how many trials were asked for, the worker that raises that number (an atomic
compare-and-set in the database) enqueues the difference as Optuna WAITING trials, and
every worker pops tickets until none is left. Popping is atomic too, so two workers never
run one trial and the study ends with exactly the number of trials asked for. A trial
lost with its worker is failed and replaced by a fresh ticket.

Optuna has no public API for two of these steps, so this module, and only this one,
uses Optuna internals (checked against the supported versions, `OPTUNA_VERSIONS`, by
tests/unit/test_optuna_internals.py):

- `Study._pop_waiting_trial_id()`: the atomic WAITING→RUNNING pop that `Study.ask` uses;
  `ask` itself creates a new trial when none is waiting, so a study would overshoot.
- Optuna's `study_user_attributes` table (`optuna.storages._rdb.models.
  StudyUserAttributeModel`, unique on study and key) through `RDBStorage.engine`: the
  compare-and-set of the study's target; Optuna has none for user attributes.

It also uses the storage-level methods of `optuna.storages.RDBStorage` (documented, but
meant for storage implementers): `get_study_id_from_name`, `get_trial_id_from_study_id_
trial_number`, `set_trial_state_values`, `set_trial_user_attr`, `record_heartbeat`,
`get_heartbeat_stale_trial_callback`, and `optuna.trial.Trial(study, trial_id)`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dltrain.errors import RunError, UsageError

STUDY_DB = "study.db"
HEARTBEAT_S = 30
GRACE_S = 120
SCHEMES = ("sqlite", "postgresql", "mysql")
# The Optuna releases whose internals this module was checked against (pyproject agrees).
OPTUNA_VERSIONS = ((4, 9), (6, 0))  # from 4.9 up to, not including, 6.0
LOST = "its worker stopped without finishing it (killed, or the machine was lost)"
TARGET = "target"  # the study's user attribute: how many trials were asked for
REPLACES = "replaces"  # a replacement ticket's user attribute: the trial it replaces


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and files."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: nothing to hide worth the risk
        return url.split("@")[-1] if "@" in url else url


def default_storage(folder: Path) -> str:
    """The SQLite URL of `folder/study.db`, creating the folder; `RunError` if it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the study folder {folder}: {exc.strerror}") from None
    return f"sqlite:///{(folder / STUDY_DB).resolve()}"


def open_storage(url: str, on_lost: Callable[[Any], None] | None = None):
    """An Optuna RDB storage with heartbeats; a bad or unreachable URL is a `UsageError`.

    Args:
        url: the database URL.
        on_lost: called with each trial (an Optuna `FrozenTrial`) failed because its
            worker was lost, before a fresh ticket replaces it. Defaults to None.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    shown = redact(url)
    fix = (
        "Use sqlite:///path/to/study.db, or postgresql+psycopg://user:password@host:5432/"
        "database (needs `pip install 'dltrain[postgres]'`)"
    )
    try:
        scheme = make_url(url).get_backend_name()
    except ArgumentError:
        raise UsageError(f"--storage {shown!r} is not a database URL. {fix}") from None
    if scheme not in SCHEMES:
        raise UsageError(
            f"--storage: unsupported database {scheme!r} in {shown!r}; use one of "
            f"{', '.join(SCHEMES)}. {fix}"
        )
    try:
        return _rdb_storage(url, functools.partial(_replace_lost, on_lost))
    except ImportError as exc:
        raise UsageError(
            f"--storage {shown!r} needs a database driver that is not installed "
            f"({exc.name or exc}); install it with: pip install 'dltrain[postgres]'"
        ) from None
    except (SQLAlchemyError, OSError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise UsageError(
            f"cannot open the study database {shown!r}: {reason}. Check the URL, that "
            "the server is running and reachable, and the user's rights"
        ) from None


def _rdb_storage(url: str, on_stale: Callable):
    import optuna
    from sqlalchemy.exc import IntegrityError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for attempt in range(5):
            try:
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=on_stale,
                )
            except IntegrityError:  # another worker is creating the tables right now
                if attempt == 4:
                    raise
                time.sleep(0.5 + attempt)


def _replace_lost(on_lost: Callable | None, study, trial) -> None:
    """The storage's stale-trial callback, run by Optuna's `fail_stale_trials` and by
    `Tickets.fail_lost`: a trial lost with its worker gets a fresh ticket, so the study
    still reaches its number of finished trials. (The trial is already FAIL here, so its
    reason can no longer be stored: `LOST` stands for a FAIL without one.)"""
    if on_lost is not None:
        on_lost(trial)
    _enqueue_replacement(study, trial.number)


def _enqueue_replacement(study, number: int) -> None:
    study.enqueue_trial({}, user_attrs={REPLACES: number}, skip_if_exists=False)


class _Raced(Exception):
    pass


class Tickets:
    """The trials of one study as tickets, in its database.

    Args:
        storage: the study's storage (`open_storage`).
        study: the Optuna study, loaded from `storage`.
    """

    def __init__(self, storage, study):
        self.storage, self.study = storage, study
        self.study_id = storage.get_study_id_from_name(study.study_name)

    def raise_target(self, n: int) -> int:
        """Raises the study's number of trials to `n` and enqueues the tickets this adds;
        returns how many this worker enqueued (0 when the target was already `n` or more).

        Workers start together: reading the target and writing a new one must be one
        atomic step, or two workers both see "no target yet" and each enqueue `n` tickets
        (a study of 2n trials). The first target is an INSERT (a second insert fails on
        the unique key), a raise is an UPDATE that only matches the value it read. The
        loser reads again and finds nothing to add. A worker killed between winning and
        enqueueing leaves the study short of tickets.
        """
        added = self._compare_and_set_target(n)
        for _ in range(added):
            self.study.enqueue_trial({}, skip_if_exists=False)
        return added

    def _compare_and_set_target(self, n: int) -> int:
        from optuna.storages._rdb.models import StudyUserAttributeModel as Attr
        from sqlalchemy import insert, select, update
        from sqlalchemy.exc import IntegrityError, OperationalError

        where = (Attr.study_id == self.study_id, Attr.key == TARGET)
        for attempt in range(50):
            try:
                with self.storage.engine.begin() as connection:
                    stored = connection.execute(select(Attr.value_json).where(*where)).scalar()
                    current = 0 if stored is None else int(json.loads(stored))
                    if n <= current:
                        return 0
                    new = json.dumps(n)
                    if stored is None:
                        row = {"study_id": self.study_id, "key": TARGET, "value_json": new}
                        connection.execute(insert(Attr).values(**row))
                    elif not connection.execute(
                        update(Attr).where(*where, Attr.value_json == stored).values(value_json=new)
                    ).rowcount:
                        raise _Raced  # another worker changed it since we read it
                return n - current
            except (_Raced, IntegrityError, OperationalError):  # lost the race, or SQLite busy
                time.sleep(0.05 * (attempt + 1))
        raise RunError("could not record the study's number of trials: the database stayed busy")

    def pop(self):
        """The next WAITING trial, now RUNNING and ours (an `optuna.Trial`), or None when
        the study has no ticket left."""
        import optuna

        trial_id = self.study._pop_waiting_trial_id()  # atomic in the database
        return None if trial_id is None else optuna.Trial(self.study, trial_id)

    def replace(self, trial) -> None:
        """Enqueues a fresh ticket in place of `trial` (failed, stopped or lost)."""
        _enqueue_replacement(self.study, trial.number)

    def fail_lost(self, gone: Callable[[Any], bool]) -> list[int]:
        """Fails the RUNNING trials whose worker is lost, each replaced by a fresh ticket.

        Args:
            gone: whether a RUNNING trial's worker is known to be gone (a dead process
                on this machine); such a trial fails at once, with the reason `LOST`.
                Elsewhere a worker is lost once its heartbeat is older than `GRACE_S`
                (Optuna's `fail_stale_trials`).

        Returns:
            The numbers of the trials failed here at once.
        """
        import optuna
        from optuna.trial import TrialState

        failed = []
        replace = self.storage.get_heartbeat_stale_trial_callback() or functools.partial(
            _replace_lost, None
        )
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if not gone(trial):
                continue
            trial_id = self._trial_id(trial)
            try:
                self.storage.set_trial_user_attr(trial_id, "fail_reason", LOST)
                if self.storage.set_trial_state_values(trial_id, TrialState.FAIL):
                    replace(self.study, trial)
                    failed.append(trial.number)
            except optuna.exceptions.UpdateFinishedTrialError:  # another worker was first
                continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            failed += list(optuna.storages.fail_stale_trials(self.study) or [])
        return failed

    @contextlib.contextmanager
    def heartbeat(self, trial) -> Iterator[None]:
        """Records `trial`'s heartbeat every `HEARTBEAT_S` seconds, from a thread, while
        the block runs (so a long epoch does not look like a lost worker)."""
        beat = _Heartbeat(self.storage, self._trial_id(trial))
        beat.thread.start()
        try:
            yield
        finally:
            beat.done.set()
            beat.thread.join(timeout=5)

    def _trial_id(self, trial) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, trial.number)


class _Heartbeat:
    def __init__(self, storage, trial_id: int):
        self.storage, self.trial_id = storage, trial_id
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed beat must not kill training
                self.storage.record_heartbeat(self.trial_id)
            if self.done.wait(HEARTBEAT_S):
                return
