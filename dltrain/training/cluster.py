"""A multi-worker cluster as TF_CONFIG describes it: read, checked, and this process's place.

Every problem in TF_CONFIG is one `ConfigError` (exit 2) that says what is wrong and how
the variable should look (see docs/distributed.md).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from dltrain.errors import ConfigError

_ADDRESS = re.compile(r"^[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")
_FIX = (
    "Set TF_CONFIG on every machine to the same cluster and that machine's own task, e.g. "
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}} (see docs/distributed.md)'
)


@dataclass(frozen=True)
class Cluster:
    """A worker's place in a multi-worker cluster, read from TF_CONFIG.

    `workers` lists every training process (the `chief` job first, if there is one);
    `rank` is this process's position in it. The chief is the `chief` task, or worker 0
    when the cluster has no `chief` job.
    """

    workers: tuple[str, ...]
    task_type: str
    task_index: int
    chief_job: bool = False

    @property
    def rank(self) -> int:
        return self.task_index + (1 if self.task_type == "worker" and self.chief_job else 0)

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        return f"{self.task_type} {self.task_index} ({self.workers[self.rank]})"


def read_tf_config(environ=None) -> Cluster:
    """Parses and checks TF_CONFIG; what is wrong is named in a `ConfigError` (exit 2).

    Args:
        environ: the environment to read. Defaults to `os.environ`.

    Returns:
        This process's `Cluster`.
    """
    environ = os.environ if environ is None else environ
    where = "TF_CONFIG"
    raw = environ.get("TF_CONFIG", "").strip()
    if not raw:
        raise ConfigError(
            "train.distribute is 'multi_worker' but TF_CONFIG is not set, so this process "
            f"does not know the cluster or its own role in it. {_FIX}",
            where=where,
        )

    def bad(what: str) -> ConfigError:
        return ConfigError(f"{what}. {_FIX}. Received: TF_CONFIG={raw}", where=where)

    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise bad(f"TF_CONFIG is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise bad("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    unknown = sorted(set(value) - {"cluster", "task", "environment", "rpc_layer"})
    if unknown:
        raise bad(f"TF_CONFIG has unknown key(s) {', '.join(map(repr, unknown))}")
    cluster, task = value.get("cluster"), value.get("task")
    workers = _cluster_workers(cluster, bad)
    task_type, index = _task_of(task, cluster, bad)
    return Cluster(workers, task_type, index, chief_job="chief" in cluster)


def _cluster_workers(cluster, bad) -> tuple[str, ...]:
    """Every training process of TF_CONFIG's cluster (the chief first), checked."""
    if not isinstance(cluster, dict) or not cluster:
        raise bad("TF_CONFIG['cluster'] must map job names ('worker', optionally 'chief') to lists")
    jobs = sorted(set(cluster) - {"worker", "chief"})
    if jobs:
        raise bad(
            f"TF_CONFIG['cluster'] has job(s) {', '.join(map(repr, jobs))}; multi_worker "
            "training uses only 'worker' (and optionally one 'chief'): parameter servers and "
            "evaluators are not supported"
        )
    for job, addresses in cluster.items():
        if (
            not isinstance(addresses, list)
            or not addresses
            or not all(isinstance(a, str) and _ADDRESS.match(a) for a in addresses)
        ):
            raise bad(f"TF_CONFIG['cluster'][{job!r}] must be a non-empty list of 'host:port'")
    if len(cluster.get("chief", [])) > 1:
        raise bad("TF_CONFIG['cluster']['chief'] must hold exactly one address")
    workers = tuple(cluster.get("chief", []) + cluster.get("worker", []))
    if len(set(workers)) != len(workers):
        raise bad("TF_CONFIG['cluster'] lists an address twice")
    return workers


def _task_of(task, cluster: dict, bad) -> tuple[str, int]:
    """(job, index) of this process in TF_CONFIG's `task`, checked against the cluster."""
    if not isinstance(task, dict) or set(task) - {"type", "index", "trial"}:
        raise bad("TF_CONFIG['task'] must be an object {'type': ..., 'index': ...}")
    task_type, index = task.get("type"), task.get("index", 0)
    if task_type not in cluster:
        raise bad(
            f"TF_CONFIG['task']['type'] is {task_type!r}, not a job of the cluster "
            f"({', '.join(map(repr, sorted(cluster)))})"
        )
    if isinstance(index, bool) or not isinstance(index, int):
        raise bad(f"TF_CONFIG['task']['index'] must be an integer, not {index!r}")
    if not 0 <= index < len(cluster[task_type]):
        raise bad(
            f"TF_CONFIG['task']['index'] is {index}, but job {task_type!r} has "
            f"{len(cluster[task_type])} address(es) (index 0 to {len(cluster[task_type]) - 1})"
        )
    return task_type, index
