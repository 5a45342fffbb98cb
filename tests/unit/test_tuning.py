"""The tuning pieces that need no TensorFlow: the `tune:` schema, the search-space check,
sampling, trial configs, cross-validation folds and storage URLs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dltrain import tuning
from dltrain.config import load_config
from dltrain.config.data import GroupSplit, RandomSplit, StratifiedSplit
from dltrain.data import splits
from dltrain.errors import ConfigError, UsageError
from dltrain.tuning.storage import Tickets
from dltrain.tuning.study import pruner as make_pruner
from tests.conftest import BASIC_CONFIG, REPO, write_config

SPACE = """
tune:
  trials: 5
  space:
    train.optimizer.learning_rate: {log_uniform: [1.0e-4, 1.0e-2]}
    model.dropout: {uniform: [0.0, 0.5]}
    train.batch_size: {int: [8, 32]}
    model.hidden_units: {categorical: [[8], [16, 8]]}
    train.early_stopping.patience: {int: [2, 5]}
"""


def _config(tmp_path, tune: str = SPACE, extra: str = ""):
    return load_config(write_config(tmp_path, BASIC_CONFIG + tune + extra))


def test_space_is_validated_and_sampled(tmp_path):
    import optuna

    cfg = _config(tmp_path)
    tuning.check_space(cfg)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        params = tuning.suggest(trial, cfg)
        assert 1e-4 <= params["train.optimizer.learning_rate"] <= 1e-2
        assert 8 <= params["train.batch_size"] <= 32
        assert params["model.hidden_units"] in ([8], [16, 8])  # lists come back as lists
        trial_cfg = tuning.trial_config(tmp_path / "exp.yaml", [], params, trial.number)
        assert trial_cfg.model.hidden_units == params["model.hidden_units"]
        assert trial_cfg.train.batch_size == params["train.batch_size"]
        study.tell(trial, 0.0)


def test_a_path_under_a_null_section_is_known(tmp_path):
    _config(tmp_path)
    cfg = load_config(tmp_path / "exp.yaml", ["train.early_stopping=null"])
    tuning.check_space(cfg)  # early_stopping is null here, but patience is a real setting


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("    model.dropot: {uniform: [0.0, 0.5]}",
         "unknown config path 'model.dropot'"),
        ("    model.filters: {int: [8, 16]}", "unknown config path 'model.filters'"),
        ("    data.split.test: {uniform: [0.1, 0.3]}", "'data.split.test' cannot be tuned"),
        ("    seed: {int: [1, 9]}", "'seed' cannot be tuned"),
    ],
)  # fmt: skip
def test_bad_space_path_names_the_line(tmp_path, line, message):
    cfg = _config(tmp_path, SPACE + line + "\n")
    with pytest.raises(ConfigError) as info:
        tuning.check_space(cfg)
    assert message in info.value.message
    lines = (tmp_path / "exp.yaml").read_text().splitlines()
    number = [i for i, text in enumerate(lines, 1) if text.strip() == line.strip()][-1]
    assert info.value.where.endswith(f"exp.yaml:{number}")
    if "dropot" in line:
        assert info.value.message.endswith("Did you mean 'model.dropout'?")


@pytest.mark.parametrize(
    ("distribution", "message"),
    [
        ("{uniform: [0.5, 0.1]}", "uniform needs low < high"),
        ("{log_uniform: [0.0, 0.1]}", "log_uniform needs 0 < low < high"),
        ("{categorical: [8]}", "at least 2 items"),
        ("{unifrom: [0.1, 0.5]}", "Did you mean 'uniform'?"),
    ],
)
def test_bad_distribution(tmp_path, distribution, message):
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, f"tune:\n  space:\n    model.dropout: {distribution}\n")
    assert "exp.yaml:19" in str(info.value) and message in str(info.value)


def test_empty_space(tmp_path):
    with pytest.raises(ConfigError, match="tune.space is empty"):
        tuning.check_space(_config(tmp_path, ""))


def _fold_parts(method, labels, groups, folds=3):
    base = splits.split_rows(
        method, n_rows=len(labels), labels=labels, groups=groups, column=None, seed=1,
        where_row=str,
    )  # fmt: skip
    parts = [
        splits.split_rows(
            method,
            n_rows=len(labels),
            labels=labels,
            groups=groups,
            column=None,
            seed=1,
            where_row=str,
            fold=(i, folds),
        )  # fmt: skip
        for i in range(folds)
    ]
    return base, parts


@pytest.mark.parametrize("method", [StratifiedSplit(), RandomSplit(), GroupSplit()])
def test_folds_partition_train_and_val_and_keep_test(method):
    rng = np.random.default_rng(0)
    labels = (rng.random(240) < 0.3).astype(int)
    groups = np.array([f"p{i // 3}" for i in range(240)])
    base, parts = _fold_parts(method, labels, groups)
    pool = set(base["train"]) | set(base["val"])
    vals = [set(p["val"]) for p in parts]
    assert set().union(*vals) == pool and sum(map(len, vals)) == len(pool)
    for p in parts:
        assert p["test"].tolist() == base["test"].tolist()
        assert set(p["train"]) | set(p["val"]) == pool
        assert not set(groups[p["train"]]) & set(groups[p["val"]])  # patients stay whole
        if not isinstance(method, RandomSplit):  # stratified: about 30% positives per fold
            assert 0.15 < labels[p["val"]].mean() < 0.45


def test_too_many_folds_is_a_data_error():
    labels = np.array([0] * 10 + [1] * 10)
    with pytest.raises(Exception, match="cross-validation folds"):
        _fold_parts(StratifiedSplit(), labels, None, folds=20)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("redis://localhost/0", "unsupported database 'redis'"),
    ],
)
def test_bad_storage_url(url, message):
    with pytest.raises(UsageError, match=message):
        tuning.open_storage(url)


def test_redact_hides_the_password():
    shown = tuning.redact("postgresql+psycopg://me:s3cret@db.example:5432/studies")
    assert "s3cret" not in shown and "me:***@db.example" in shown


def test_pruners_follow_the_config(tmp_path):
    import optuna

    cfg = _config(tmp_path)
    assert isinstance(make_pruner(cfg), optuna.pruners.MedianPruner)
    hyper = load_config(
        tmp_path / "exp.yaml",
        ["tune.pruner={name: hyperband, min_epochs: 1}", "tune.cv={folds: 3}"],
    )
    pruner = make_pruner(hyper)
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert pruner._max_resource == hyper.train.epochs * 3  # steps run over every fold
    none = load_config(tmp_path / "exp.yaml", ["tune.pruner={name: none}"])
    assert isinstance(make_pruner(none), optuna.pruners.NopPruner)


def _waiting(study) -> int:
    return sum(t.state.name == "WAITING" for t in study.get_trials(deepcopy=False))


def test_a_worker_arriving_during_creation_adds_no_tickets(tmp_path):
    # CI caught this: worker B loaded the study after A created it but before A recorded
    # its target, read "no target" and enqueued a second set (8 trials for --trials 4).
    import optuna

    cfg = _config(tmp_path)
    storage = tuning.open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    created = optuna.create_study(study_name="s", storage=storage)  # A, not yet claimed
    loaded = tuning.open_study(storage, "s", cfg, "val_loss", "minimize", 4)  # B
    assert _waiting(loaded) == 4
    assert Tickets(storage, created).raise_target(4) == 0  # A finds it done
    tuning.open_study(storage, "s", cfg, "val_loss", "minimize", 3)  # lower: nothing added
    assert _waiting(loaded) == 4
    tuning.open_study(storage, "s", cfg, "val_loss", "minimize", 6)  # raised: two more
    assert _waiting(loaded) == 6 and loaded.user_attrs["target"] == 6


def test_concurrent_workers_agree_on_the_number_of_tickets(tmp_path):
    import threading

    import optuna

    cfg = _config(tmp_path)
    storage = tuning.open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    for round_ in range(5):
        name = f"s{round_}"
        start = threading.Barrier(4)
        errors = []

        def worker(n, name=name, start=start, errors=errors):
            try:
                start.wait()
                tuning.open_study(storage, name, cfg, "val_loss", "minimize", n)
            except Exception as exc:  # surfaced below: a thread's exception is otherwise lost
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in (5, 5, 7, 7)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        study = optuna.load_study(study_name=name, storage=storage)
        assert _waiting(study) == 7 and study.user_attrs["target"] == 7


def test_a_trial_value_under_a_null_section(tmp_path):
    _config(tmp_path)
    params = {"train.early_stopping.patience": 3}
    cfg = tuning.trial_config(tmp_path / "exp.yaml", ["train.early_stopping=null"], params, 2)
    assert cfg.train.early_stopping.patience == 3


def test_a_trial_value_under_a_setting_names_the_trial(tmp_path):
    _config(tmp_path)
    with pytest.raises(ConfigError) as info:
        tuning.trial_config(tmp_path / "exp.yaml", [], {"train.epochs.x": 1}, 4)
    assert "train.epochs is not a section" in info.value.message
    assert info.value.where == "--set train.epochs.x=1 (tune trial 4)"


PACKAGE = REPO / "dltrain" / "tuning"
RULES = [  # (what, pattern, the only modules allowed to match)
    ("prints",
     re.compile(r"\bprint\(|^\s*(from|import) dltrain(\.console| import .*\bconsole\b)", re.M),
     ()),
    ("Optuna internals",
     re.compile(r"optuna(\.\w+)*\._\w+|\._(pop_waiting_trial_id|study_id|trial_id|storage)\b"
                r"|\.engine\b"),
     ("storage.py",)),
    ("calls into dltrain.training",
     re.compile(r"^\s*(from|import) dltrain\.training\b", re.M), ("trial.py",)),
]  # fmt: skip


@pytest.mark.parametrize(("what", "pattern", "allowed"), RULES, ids=[r[0] for r in RULES])
def test_tuning_package_boundaries(what, pattern, allowed):
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 5, "dltrain/tuning/ is a package of modules"
    hits = [
        f"{path.relative_to(REPO)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in modules
        if path.name not in allowed
        for text in [path.read_text()]
        for m in pattern.finditer(text)
    ]
    assert not hits, f"{what} outside {allowed or 'console.py'}: {hits}"


def test_the_study_table_shows_this_workers_trial_and_the_spread_over_folds():
    from rich.console import Console

    from dltrain.views import StudyDisplay

    rows = [
        tuning.TrialRow(0, "COMPLETE", 0.5, 0.1, {"model.dropout": 0.123456}, ""),
        tuning.TrialRow(1, "RUNNING", None, None, {"model.dropout": 0.3}, ""),
        tuning.TrialRow(2, "FAIL", None, None, {}, "x" * 100),
    ]
    progress = tuning.Progress("s", "val_loss", ["model.dropout"], rows, waiting=3, running=1)
    out = Console(record=True, width=200)
    out.print(StudyDisplay()._table(progress))
    text = out.export_text()
    assert "Study s: val_loss (3 trial(s) waiting)" in text
    assert "0.5000 ± 0.1000" in text and "0.1235" in text
    assert "RUNNING (here)" in text and "x" * 80 in text and "x" * 81 not in text
