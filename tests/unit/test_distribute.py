"""TF_CONFIG parsing for multi-worker training: roles, the chief, and every malformed case."""

from __future__ import annotations

import json

import pytest

from dltrain.errors import ConfigError
from dltrain.training.distribute import is_other_worker, read_tf_config

WORKERS = ["10.0.0.1:2222", "10.0.0.2:2222", "10.0.0.3:2222"]


def _env(value) -> dict:
    return {"TF_CONFIG": value if isinstance(value, str) else json.dumps(value)}


def test_worker_zero_is_chief_without_a_chief_job():
    roles = [
        read_tf_config(
            _env({"cluster": {"worker": WORKERS}, "task": {"type": "worker", "index": i}})
        )
        for i in range(3)
    ]
    assert [r.is_chief for r in roles] == [True, False, False]
    assert [r.rank for r in roles] == [0, 1, 2]
    assert roles[1].describe() == "worker 1 (10.0.0.2:2222)"


def test_a_chief_job_is_the_chief_and_ranks_first():
    cluster = {"chief": ["10.0.0.9:2222"], "worker": WORKERS[:2]}
    chief = read_tf_config(_env({"cluster": cluster, "task": {"type": "chief", "index": 0}}))
    worker0 = read_tf_config(_env({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert chief.is_chief and chief.workers[0] == "10.0.0.9:2222"
    assert not worker0.is_chief and worker0.rank == 1


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("", "TF_CONFIG is not set"),
        ("{cluster: 1", "TF_CONFIG is not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"cluster": {"worker": WORKERS}}, "TF_CONFIG['task'] must be an object"),
        ({"task": {"type": "worker", "index": 0}}, "TF_CONFIG['cluster'] must map"),
        ({"cluster": {"worker": []}, "task": {"type": "worker"}}, "non-empty list of 'host:port'"),
        ({"cluster": {"worker": ["host"]}, "task": {"type": "worker"}}, "'host:port'"),
        (
            {"cluster": {"worker": WORKERS, "ps": ["a:1"]}, "task": {"type": "worker"}},
            "parameter servers and evaluators are not supported",
        ),
        (
            {"cluster": {"worker": WORKERS}, "task": {"type": "worker", "index": 3}},
            "['index'] is 3, but job 'worker' has 3 address(es) (index 0 to 2)",
        ),
        (
            {"cluster": {"worker": WORKERS}, "task": {"type": "chief", "index": 0}},
            "'chief', not a job of the cluster ('worker')",
        ),
        (
            {"cluster": {"worker": WORKERS}, "task": {"type": "worker", "index": "1"}},
            "must be an integer, not '1'",
        ),
        (
            {"cluster": {"worker": [WORKERS[0], WORKERS[0]]}, "task": {"type": "worker"}},
            "lists an address twice",
        ),
        ({"cluster": {"worker": WORKERS}, "task": {}, "extra": 1}, "unknown key(s) 'extra'"),
    ],
)
def test_malformed_tf_config_says_what_is_wrong(value, needle):
    with pytest.raises(ConfigError) as info:
        read_tf_config(_env(value))
    assert needle in str(info.value)
    assert info.value.where == "TF_CONFIG"
    assert "docs/distributed.md" in str(info.value)


@pytest.mark.parametrize(
    ("distribute", "index", "other"),
    [("multi_worker", 1, True), ("multi_worker", 0, False), ("none", 1, False)],
)
def test_only_a_non_chief_worker_resumes_without_the_run_lock(
    tmp_path, monkeypatch, distribute, index, other
):
    (tmp_path / "config.yaml").write_text(f"name: demo\ntrain:\n  distribute: {distribute}\n")
    tf_config = {"cluster": {"worker": WORKERS[:2]}, "task": {"type": "worker", "index": index}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert is_other_worker(tmp_path) is other
