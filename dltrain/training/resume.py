"""`dltrain resume RUN_ID`: continue a stopped run exactly, from wherever it stopped.

A run can stop at any point: while its sanity suite runs, before its first checkpoint,
mid-epoch, while it scores the test split or writes its report. Resuming does what is
left, and what is redone gives the same result as the first time:

- the sanity suite, if the run has not recorded one (a recorded FAIL is not retried);
- training, from the newest intact checkpoint (from epoch 1 with the same seeded model
  when none was written; nothing when training had finished);
- the final model, the test scoring, the predictions and the report, then `completed`.

A completed run whose model or preprocessing file is damaged is repaired the same way
(the final model is rebuilt from the best checkpoint and the same test scores written
again). The run's own config.yaml and dataset.json are the only inputs: the data is
re-read (or found in the cache) from where the run recorded it, and must give the same
split hashes as when the run started, or resuming is refused. A run trained on train+val
(refit.json, `dltrain.training.refit`) resumes as one.
"""

from __future__ import annotations

from dltrain import records, runs, tracking
from dltrain.config import load_config
from dltrain.data.cache import preprocess
from dltrain.errors import DataError, DivergedError, UsageError
from dltrain.training import checkpoint, distribute, framework, refit
from dltrain.training.events import SILENT, Listener
from dltrain.training.guard import guarded, phase
from dltrain.training.loop import LoopState
from dltrain.training.session import Session, TrainResult


def resume(run_id: str, listener: Listener = SILENT) -> TrainResult:
    """Continues run `run_id` from wherever it stopped, and completes it.

    A damaged checkpoint is skipped with a warning naming it (the previous one is
    used); if checkpoints exist but none is intact, resuming is refused rather
    than silently starting again.
    """
    run_dir = runs.resolve_run(run_id)
    dataset = runs.read_json(run_dir / "dataset.json")
    config = recorded_config(run_dir, dataset)
    tracking.check(config)  # the [mlflow] extra, if the run logs to MLflow
    dist = distribute.setup(config.train, listener)  # distributed: before any TF op
    with distribute.resume_folders(run_dir) as (lock, write_dir):
        _resumable(run_dir, run_id)
        listener.phase("preprocess", "preprocessing")
        session = Session(config, preprocess(config), listener, refit.read(run_dir))
        _same_splits(session, dataset, run_id)
        if lock.stale_pid:
            listener.warn(f"the lock of process {lock.stale_pid} was stale and has been removed")
        # distributed: non-chief workers write elsewhere; a lost worker is exit 4
        with guarded(write_dir) as stop, dist.failures(), framework.configured(config, listener):
            with tracking.recording(session, run_dir, dist.is_chief):  # TensorBoard, MLflow
                return _continue(run_dir, write_dir, session, stop, dist)


def _continue(run_dir, write_dir, session: Session, stop, dist) -> TrainResult:
    """What is left of the run: repairs, the sanity suite, training, test and report."""
    if dist.is_chief:  # distributed: the run's files are the chief's
        runs.clean_temporary(run_dir)
        _repair_preprocessing(run_dir, session)
        runs.run_subdir(run_dir, "checkpoints")
    session.listener.run_started(run_dir, session.config)
    # distributed: the chief's suite is the run's; it has no collective operation
    checks = session.sanity(run_dir) if dist.is_chief else []
    phase(write_dir, "training")
    model, state = _restored(run_dir, session)
    session.fit(write_dir, model, stop, state)
    if not dist.is_chief:
        return TrainResult(None, None, {}, [], worker=dist.describe())
    metrics, checks = session.test(run_dir, checks)
    session.complete(run_dir)
    return TrainResult(run_dir.name, run_dir, metrics, checks)


def _resumable(run_dir, run_id: str) -> None:
    """Refuses a run that is completed (and intact) or diverged."""
    status = runs.read_json(run_dir / "status.json")
    state_name = status.get("status")
    if state_name == "completed" and _intact(run_dir):
        raise UsageError(f"run {run_id} is already completed; there is nothing to resume")
    if state_name == "diverged":
        raise DivergedError(
            f"run {run_id} diverged ({status.get('message', '')}); resuming would repeat it. "
            "Start a new run with a lower learning rate"
        )


def _same_splits(session: Session, dataset: dict, run_id: str) -> None:
    """The data, re-read, must give the very splits the run started with."""
    split = session.data.manifest["split"]
    for name in ("train", "val", "test"):
        if split[name]["sha256"] != dataset["split"][name]["sha256"]:
            raise DataError(
                f"the {name} split of run {run_id} cannot be rebuilt identically from "
                f"{session.config.data.path} (its content hash differs); the data or "
                "dltrain's preprocessing changed, so the run cannot be resumed exactly"
            )


def recorded_config(run_dir, dataset: dict):
    """The run's config, reading its data where the run recorded it (dataset.json)."""
    path, labels = records.data_source(dataset)
    origin = f"{run_dir / 'dataset.json'} (where the run found its data)"
    recorded = {"data.path": (path, origin)}
    if labels is not None:
        recorded["data.labels"] = (labels, origin)
    return load_config(run_dir / "config.yaml", recorded=recorded)


def _restored(run_dir, session: Session):
    """The compiled model and loop state to continue from: the newest intact checkpoint, or
    the freshly seeded model of epoch 1 (what `train` builds) when there is none."""
    model = session.built_model()
    _build_state(model, session.train_sample, session.feed)
    restored = checkpoint.load_latest(run_dir, model)
    if restored is None:
        session.listener.warn("no checkpoint was written yet: training starts from epoch 1")
        return session.built_model(), LoopState()
    for warning in restored.skipped:
        session.listener.warn(warning)
    meta = restored.meta
    session.listener.info(
        f"Resuming {run_dir.name} from {restored.file.name}: epoch {meta['epoch'] + 1}, "
        f"after step {meta['step']}"
    )
    return model, LoopState(**meta)


def _intact(run_dir) -> bool:
    """Whether a completed run's model and fitted preprocessing match their checksums."""
    return all(records.is_intact(run_dir, name) for name in records.RECORDED)


def _repair_preprocessing(run_dir, session: Session) -> None:
    """Writes preprocessing.json again from the cache when it is missing or damaged (the
    cache's split hashes were just checked, so it is the same fitted preprocessing)."""
    if records.is_intact(run_dir, "preprocessing.json"):
        return
    session.listener.warn(f"{run_dir / 'preprocessing.json'} was missing or damaged; written again")
    session.data.transform.save(run_dir / "preprocessing.json")
    records.record(run_dir, "preprocessing.json")


def _build_state(model, train, feed) -> None:
    """Creates the optimiser and metric variables (one step) so a checkpoint can fill them."""
    x = train.x[:1].astype("float32") if train.x.dtype.kind == "u" else train.x[:1]
    model.train_on_batch(*feed.eval_batch(x, train.y[:1]))
