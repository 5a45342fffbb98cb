"""An MLflow run per dltrain run (`track: {mlflow: {uri: ...}}`, the `[mlflow]` extra).

Logged: the resolved config as parameters (dotted keys), every epoch's history row and
learning rate as metrics (step = epoch, 1-based), why training stopped (tags and
`best_epoch`), the test metrics with their 95% CIs (`test_<metric>`, `test_<metric>_low`,
`test_<metric>_high`) and the baselines', and at the end report.html, metrics.json,
config.yaml, the plots and model.keras as artifacts. The run is ended FINISHED, FAILED or
KILLED (Ctrl-C/SIGTERM); `dltrain resume` continues the same MLflow run (its id is kept in
`runs/<id>/mlflow.json`).

It uses `MlflowClient` with the configured URI only: no process-wide MLflow state (active
run, tracking URI) is touched. A logging failure mid-run warns once and stops logging; the
dltrain run itself goes on.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path

from dltrain import runs
from dltrain.errors import ConfigError
from dltrain.training.events import Listener

EXTRA = 'pip install "dltrain[mlflow]"'
RECORD = "mlflow.json"
ARTIFACTS = ("report.html", "metrics.json", "config.yaml", "dataset.json", "model.keras")
MAX_PARAM = 6000  # characters MLflow keeps of a parameter value
BATCH = 100  # parameters per log_batch call (MLflow's limit)
ENDING = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED"}


def require(config) -> None:
    """Raises a `ConfigError` naming the extra when MLflow is not installed."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError(
            f"track.mlflow is set but MLflow is not installed; install the extra with {EXTRA} "
            "(or remove track.mlflow from the config)",
            where=config.where("track.mlflow.uri"),
        ) from None
    _quiet()
    try:  # the store is opened now: a URI MLflow refuses fails before any run exists
        MlflowClient(tracking_uri=config.track.mlflow.uri).search_experiments(max_results=1)
    except Exception as exc:
        raise ConfigError(
            f"track.mlflow.uri {config.track.mlflow.uri!r} cannot be used: {_first_line(exc)}",
            where=config.where("track.mlflow.uri"),
        ) from None


def _quiet() -> None:
    """MLflow's and its database migrations' INFO lines are not the user's business."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _safely(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.broken:
            return
        try:
            method(self, *args, **kwargs)
        except Exception as exc:  # a record is not worth a failed run
            self.broken = True
            self.warn(f"MLflow logging to {self.settings.uri} stopped: {_first_line(exc)}")

    return wrapper


class MLflowRun(Listener):
    """Logs one dltrain run to an MLflow tracking store.

    Args:
        settings: the config's `track.mlflow` section (uri, experiment).
        run_dir: the dltrain run folder.
        warn: told (once) when logging fails.
    """

    def __init__(self, settings, run_dir: Path, warn):
        self.settings, self.dir, self.warn = settings, Path(run_dir), warn
        self.broken = False
        self.client = None
        self.run_id: str | None = None

    @_safely
    def run_started(self, run_dir: Path, config) -> None:
        from mlflow.tracking import MlflowClient

        _quiet()
        self.client = MlflowClient(tracking_uri=self.settings.uri)
        recorded = self.dir / RECORD
        if recorded.is_file():  # resuming: the same MLflow run
            self.run_id = runs.read_json(recorded)["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            return
        experiment = self.settings.experiment or config.name
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id
            if found is not None
            else self.client.create_experiment(
                experiment, artifact_location=self.settings.artifacts
            )
        )
        run = self.client.create_run(
            experiment_id, run_name=self.dir.name, tags={"dltrain.run": self.dir.name}
        )
        self.run_id = run.info.run_id
        runs.write_json(recorded, {"experiment_id": experiment_id, "run_id": self.run_id})
        self._params(config)

    def _params(self, config) -> None:
        from mlflow.entities import Param

        flat = _flatten(config.model_dump(mode="json", exclude={"tune", "track"}))
        params = [Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in flat]
        params = [Param(p.key, p.value[:MAX_PARAM]) for p in params]
        for start in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[start : start + BATCH])

    def _metrics(self, values: dict, step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in values.items() if v is not None]
        if self.run_id is not None and metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    @_safely
    def learning_rate(self, epoch: int, value: float) -> None:
        self._metrics({"learning_rate": value}, epoch + 1)

    @_safely
    def epoch(self, epoch: int, row: dict, seconds: float) -> None:
        values = {k: v for k, v in row.items() if k not in ("epoch", "stage")}
        self._metrics({**values, "epoch_seconds": seconds}, epoch + 1)

    @_safely
    def stopped(self, stopping: dict) -> None:
        if self.run_id is None:
            return
        self.client.set_tag(self.run_id, "dltrain.stopping", stopping["message"])
        self.client.set_tag(self.run_id, "dltrain.stopping_reason", stopping["reason"])
        self._metrics({"best_epoch": stopping.get("best_epoch")}, stopping.get("epochs") or 0)

    @_safely
    def tested(self, results: dict) -> None:
        values = {}
        for split in ("val", "test"):
            for name, m in (results.get(split) or {}).items():
                values.update(_interval(f"{split}_{name}", m))
        for baseline, table in (results.get("baselines") or {}).items():
            for name, m in table.items():
                values.update(_interval(f"baseline_{baseline}_{name}", m))
        self._metrics(values, 0)

    @_safely
    def finished(self, run_dir: Path) -> None:
        if self.run_id is None:
            return
        for name in ARTIFACTS:
            if (self.dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.dir / name))
        if (self.dir / "plots").is_dir():
            self.client.log_artifacts(self.run_id, str(self.dir / "plots"), "plots")

    def close(self, ending: str) -> None:
        if self.client is None or self.run_id is None or self.broken:
            return
        try:
            self.client.set_terminated(self.run_id, ENDING.get(ending, "FAILED"))
        except Exception as exc:  # the run's own error, if any, is the one to report
            self.warn(f"MLflow run {self.run_id} could not be ended: {_first_line(exc)}")


def _flatten(data: dict, prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out += _flatten(value, f"{name}.")
        else:
            out.append((name, value))
    return out


def _interval(name: str, m: dict) -> dict:
    return {name: m.get("value"), f"{name}_low": m.get("low"), f"{name}_high": m.get("high")}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
