"""The sanity suite's verdicts, cached beside the processed data they were measured on.

The suite's verdicts depend on the model, the data, the seed and the training settings
(the budget on the run's length), and on dltrain's code. The key covers all of them: the
cache folder's name (`<name>-<fingerprint>`: the source bytes, the data section, the
seed), the model section, the train section less the settings the suite never reads, the
dltrain version and `SUITE_VERSION`. A re-run `train` and `dltrain check` with the same
key read the verdicts instead of running the suite again; anything else runs it. The
files live in the processed-data folder (`<cache>/sanity/<key>.json`), so deleting that
folder deletes them, and never in runs/.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from dltrain.training.verdict import Check

SUITE_VERSION = 2  # raise when the suite's checks or thresholds change
UNREAD = {"early_stopping", "checkpoint_every", "sanity"}  # train settings the suite ignores
NOTE = "Cached: measured by an earlier run of this model, data, seed and settings. "


def key(config, data) -> str:
    """The verdicts' key: see the module's docstring."""
    from dltrain import __version__

    payload = {
        "suite": SUITE_VERSION,
        "dltrain": __version__,
        "data": Path(data.path).name,
        "seed": config.seed,
        "model": config.model.model_dump(mode="json"),
        "train": config.train.model_dump(mode="json", exclude=UNREAD),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def path(data, name: str) -> Path:
    return Path(data.path) / "sanity" / f"{name}.json"


def load(data, name: str) -> list[Check] | None:
    """The cached verdicts, marked cached; None when there are none (or they are unreadable:
    then the suite runs again and rewrites them)."""
    file = path(data, name)
    try:
        stored = json.loads(file.read_text())["checks"]
        checks = [Check(**c) for c in stored]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [
        dataclasses.replace(c, cached=True, detail=NOTE + c.detail.removeprefix(NOTE))
        for c in checks
    ]


def store(data, name: str, checks: list[Check]) -> bool:
    """Writes the verdicts atomically; False when the cache folder is not writable (a
    shared read-only cache): the run goes on, the suite simply runs again next time."""
    from dltrain import runs
    from dltrain.errors import RunError

    try:
        file = path(data, name)
        file.parent.mkdir(exist_ok=True)
        runs.write_json(file, {"checks": [dataclasses.asdict(c) for c in checks]})
    except (OSError, RunError):
        return False
    return True
