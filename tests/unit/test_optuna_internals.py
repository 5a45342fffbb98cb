"""The Optuna internals that dltrain/tuning/storage.py relies on, pinned to the supported
Optuna versions (`storage.OPTUNA_VERSIONS`: 4.9 up to 6.0, checked on 4.9.0 and 5.0.0).

An Optuna upgrade that changes one of them fails here, with a message that names what
changed and what it breaks; fix storage.py (the only module that uses them), then widen
`OPTUNA_VERSIONS` and the `optuna` requirement in pyproject.toml together.
"""

from __future__ import annotations

import pytest

from dltrain.tuning import storage
from dltrain.tuning.storage import Tickets, open_storage
from tests.conftest import REPO


def _optuna_version() -> tuple[int, int]:
    import optuna
    from packaging.version import Version

    release = Version(optuna.__version__).release
    return release[0], release[1]


def _supported() -> str:
    (a, b), (c, d) = storage.OPTUNA_VERSIONS
    return f"{a}.{b} <= optuna < {c}.{d}"


def _changed(what: str, use: str) -> str:
    import optuna

    return (
        f"Optuna {optuna.__version__}: {what} changed; dltrain/tuning/storage.py uses it "
        f"for {use}. Adapt storage.py to this Optuna, or keep {_supported()}"
    )


@pytest.fixture
def study_storage(tmp_path):
    import optuna

    db = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    return db, optuna.create_study(study_name="s", storage=db)


def test_the_installed_optuna_is_supported():
    low, high = storage.OPTUNA_VERSIONS
    assert low <= _optuna_version() < high, _changed(
        "the version", f"everything below; it was checked for {_supported()} only"
    )


def test_pyproject_requires_the_supported_versions():
    import re

    from packaging.specifiers import SpecifierSet

    text = (REPO / "pyproject.toml").read_text()
    (spec,) = re.findall(r'"optuna([<>=~!][^"]*)"', text)
    (a, b), (c, d) = storage.OPTUNA_VERSIONS
    allowed = SpecifierSet(spec)
    below = f"{a}.{b - 1}.99" if b else f"{a - 1}.99.0"
    inside, outside = [f"{a}.{b}.0"], [below, f"{c}.{d}.0"]
    assert all(v in allowed for v in inside) and not any(v in allowed for v in outside), (
        f"pyproject.toml requires optuna{spec}, but storage.OPTUNA_VERSIONS says {_supported()}"
    )


def test_pop_waiting_trial_id_pops_each_ticket_once(study_storage):
    import optuna
    from optuna.trial import TrialState

    _, study = study_storage
    use = "popping a ticket without creating a trial (Tickets.pop)"
    assert callable(getattr(optuna.Study, "_pop_waiting_trial_id", None)), _changed(
        "Study._pop_waiting_trial_id (gone or renamed)", use
    )
    study.enqueue_trial({})
    first = study._pop_waiting_trial_id()
    assert isinstance(first, int), _changed("Study._pop_waiting_trial_id's result", use)
    assert study._pop_waiting_trial_id() is None, _changed(
        "Study._pop_waiting_trial_id (it returned a trial when none was waiting)", use
    )
    trial = optuna.Trial(study, first)
    assert study.get_trials()[0].state == TrialState.RUNNING, _changed(
        "Study._pop_waiting_trial_id (the popped trial is not RUNNING)", use
    )
    assert trial.number == 0, _changed("optuna.Trial(study, trial_id)", use)


def test_study_user_attributes_table_has_the_expected_shape():
    from optuna.storages._rdb.models import StudyUserAttributeModel as Attr

    use = "the compare-and-set of the study's target (Tickets.raise_target)"
    assert Attr.__tablename__ == "study_user_attributes", _changed(
        "StudyUserAttributeModel's table name", use
    )
    columns = set(Attr.__table__.columns.keys())
    assert {"study_id", "key", "value_json"} <= columns, _changed(
        f"the columns of study_user_attributes (now {sorted(columns)})", use
    )
    unique = [
        {c.name for c in constraint.columns}
        for constraint in Attr.__table__.constraints
        if type(constraint).__name__ == "UniqueConstraint"
    ]
    assert {"study_id", "key"} in unique, _changed(
        f"the unique constraint of study_user_attributes on (study_id, key) (now {unique})", use
    )


def test_the_target_written_in_the_table_reads_back_as_a_user_attribute(study_storage):
    from sqlalchemy.engine import Engine

    db, study = study_storage
    use = "the compare-and-set of the study's target (Tickets.raise_target)"
    assert isinstance(getattr(db, "engine", None), Engine), _changed("RDBStorage.engine", use)
    tickets = Tickets(db, study)
    assert tickets.raise_target(3) == 3 and tickets.raise_target(3) == 0
    assert study.user_attrs[storage.TARGET] == 3, _changed(
        "how study_user_attributes.value_json is read back (JSON text)", use
    )
    assert sum(t.state.name == "WAITING" for t in study.get_trials()) == 3


def test_storage_methods_for_lost_trials(study_storage):
    import optuna
    from optuna.trial import TrialState

    db, study = study_storage
    use = "failing and replacing lost trials (Tickets.fail_lost)"
    study.enqueue_trial({})
    trial = Tickets(db, study).pop()
    trial_id = db.get_trial_id_from_study_id_trial_number(
        db.get_study_id_from_name("s"), trial.number
    )
    db.record_heartbeat(trial_id)
    assert db.get_heartbeat_stale_trial_callback() is not None, _changed(
        "RDBStorage(heartbeat_stale_trial_callback=...) / get_heartbeat_stale_trial_callback",
        use,
    )
    assert db.set_trial_state_values(trial_id, TrialState.FAIL) is True, _changed(
        "BaseStorage.set_trial_state_values's result", use
    )
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        db.set_trial_user_attr(trial_id, "fail_reason", "x")  # a finished trial is final
    assert callable(getattr(optuna.storages, "fail_stale_trials", None)), _changed(
        "optuna.storages.fail_stale_trials", use
    )


def test_a_lost_trial_is_failed_and_replaced(study_storage):
    db, study = study_storage
    study.enqueue_trial({})
    tickets = Tickets(db, study)
    lost = tickets.pop()
    assert tickets.fail_lost(lambda trial: trial.number == lost.number) == [lost.number]
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[0].user_attrs["fail_reason"] == storage.LOST
    assert trials[1].user_attrs[storage.REPLACES] == lost.number
    assert tickets.fail_lost(lambda trial: True) == []  # nothing RUNNING any more
