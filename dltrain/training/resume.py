"""`dltrain resume RUN_ID`: continue an interrupted run exactly where its last checkpoint is."""

from __future__ import annotations

from dltrain import console, runs
from dltrain.config import load_config
from dltrain.data.cache import preprocess
from dltrain.errors import DataError, DivergedError, UsageError
from dltrain.training import checkpoint, distribute
from dltrain.training.fit import (
    TrainResult,
    complete,
    finish,
    fit_model,
    guarded,
    seeded,
    training_steps,
    training_task,
)
from dltrain.training.loop import LoopState
from dltrain.training.sanity import Check
from dltrain.training.setup import feeder, new_model


def resume(run_id: str) -> TrainResult:
    """Restores the newest intact checkpoint and trains on to the end.

    A damaged checkpoint is skipped with a warning naming it (the previous one is
    used); if checkpoints exist but none is intact, resuming is refused rather
    than silently starting again.

    The run's own config.yaml and dataset.json are the only inputs: the data is
    re-read (or found in the cache) and must give the same split hashes as when
    the run started, or resuming is refused.
    """
    run_dir = runs.resolve_run(run_id)
    dataset = runs.read_json(run_dir / "dataset.json")
    config = load_config(run_dir / "config.yaml", [f"data.path={dataset['source']['path']}"])
    dist = distribute.setup(config.train)  # distributed: before any TF op
    with distribute.resume_folders(run_dir) as (lock, write_dir):
        status = runs.read_json(run_dir / "status.json")
        state_name = status.get("status")
        if state_name == "completed":
            raise UsageError(f"run {run_id} is already completed; there is nothing to resume")
        if state_name == "diverged":
            raise DivergedError(
                f"run {run_id} diverged ({status.get('message', '')}); resuming would repeat it. "
                "Start a new run with a lower learning rate"
            )
        data = preprocess(config)
        for name in ("train", "val", "test"):
            if data.manifest["split"][name]["sha256"] != dataset["split"][name]["sha256"]:
                raise DataError(
                    f"the {name} split of run {run_id} cannot be rebuilt identically from "
                    f"{dataset['source']['path']} (its content hash differs); the data or "
                    "dltrain's preprocessing changed, so the run cannot be resumed exactly"
                )
        if lock.stale_pid:
            console.warn(f"the lock of process {lock.stale_pid} was stale and has been removed")
        # distributed: non-chief workers write elsewhere; a lost worker is exit 4
        with guarded(write_dir) as stop, dist.failures():
            task = training_task(config, data.manifest)
            prior = data.sample("train")
            n_classes = len(data.manifest["classes"])
            steps = training_steps(config, data)  # the same jit_compile as the run had
            seeded(config)
            feed = feeder(config, data, task)
            with dist.scope():  # distributed: variables mirrored on every replica
                model = dist.built(
                    new_model(config, task, data.transform, prior.y, n_classes, steps), feed
                )
            _build_state(model, prior, feed)
            if dist.is_chief:  # distributed: the run's files are the chief's
                runs.clean_temporary(run_dir)
            restored = checkpoint.load_latest(run_dir, model)
            if restored is None:
                console.warn("no checkpoint was written yet: training starts from epoch 1")
                seeded(config)
                with dist.scope():
                    model = dist.built(
                        new_model(config, task, data.transform, prior.y, n_classes, steps), feed
                    )
                state = LoopState()
            else:
                for warning in restored.skipped:
                    console.warn(warning)
                meta = restored.meta
                console.info(
                    f"Resuming {run_id} from {restored.file.name}: epoch {meta['epoch'] + 1}, "
                    f"after step {meta['step']}"
                )
                state = LoopState(**meta)
            fit_model(write_dir, config, data, model, stop, state)
            if not dist.is_chief:
                return TrainResult(None, None, {}, [], worker=dist.describe())
            checks = _recorded_checks(run_dir)
            metrics, checks = finish(run_dir, config, data, checks)
            complete(run_dir)
    return TrainResult(run_id, run_dir, metrics, checks)


def _build_state(model, train, feed) -> None:
    """Creates the optimiser and metric variables (one step) so a checkpoint can fill them."""
    x = train.x[:1].astype("float32") if train.x.dtype.kind == "u" else train.x[:1]
    model.train_on_batch(*feed.eval_batch(x, train.y[:1]))


def _recorded_checks(run_dir) -> list[Check]:
    path = run_dir / "sanity.json"
    if not path.exists():
        return []
    checks = runs.read_json(path).get("checks", [])
    return [Check(**c) for c in checks if c["name"] != "beats_baselines"]
