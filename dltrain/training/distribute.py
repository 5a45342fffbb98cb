"""Spreading training over devices and machines with `tf.distribute` (`train.distribute`).

- "none": the default strategy, one device; everything below is a no-op.
- "mirrored": `tf.distribute.MirroredStrategy` over every GPU of this machine (or every
  logical CPU device when there is no GPU), one replica per device.
- "multi_worker": `tf.distribute.MultiWorkerMirroredStrategy` across machines; each
  process reads its place in the cluster from the TF_CONFIG environment variable.

`train.batch_size` is the *global* batch: each step's batch (the same batches, in the
same order, as a single-device run) is split evenly across all replicas, and the
replicas' gradients are averaged, so the optimisation does not change with the number
of devices — only its floating-point summation order does.

Every worker runs the same program on the same data (the processed-data cache is
deterministic, so each builds or finds it), in lock-step: collective operations
(gradient all-reduce, reading metric accumulators, saving) must happen on all of
them in the same order. The chief alone writes the run folder; the other workers
write their checkpoints to a temporary folder that is deleted at the end, and skip
the final test evaluation and report.

The strategy is created once per process, before TensorFlow runs any operation
(MultiWorkerMirroredStrategy configures the collective runtime at start-up).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dltrain import runs
from dltrain.errors import ConfigError, InterruptedRun, RunError, UsageError
from dltrain.training.cluster import Cluster, read_tf_config
from dltrain.training.events import SILENT, Listener


@dataclass
class Distribution:
    """The active strategy of this process and this process's role."""

    mode: str = "none"
    strategy: object | None = None
    cluster: Cluster | None = None
    replicas: int = 1
    _any_signal: object = field(default=None, repr=False, compare=False)

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the run (always, unless a non-chief worker)."""
        return self.cluster is None or self.cluster.is_chief

    def scope(self):
        """Where the training model must be built and compiled."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def built(self, model, feed):
        """Returns `model` with every variable training needs (layers, compiled metrics and
        loss, optimizer slots) created now, in the strategy's scope.

        Created later, inside the first replicated step, they break MirroredStrategy over
        several devices ("You must feed a value for placeholder tensor ...
        cond/Placeholder"). Keras's own `fit` builds them the same way first, with
        `_symbolic_build` (from shapes only: nothing is computed and no weight changes);
        there is no public equivalent. The model is also set to one step per call:
        Keras 3.15's multi-step loop (steps_per_execution > 1) fails the same way on a
        distributed dataset, in its own `fit` too.

        Args:
            model: the compiled model.
            feed: the `Feeder`, whose specs give the shapes and dtypes of a batch.
        """
        if self.strategy is None:
            return model
        import numpy as np

        batch = tuple(np.zeros((1, *shape), dtype) for shape, dtype in feed.specs())
        with self.strategy.scope():
            model._symbolic_build(data_batch=batch)
        model.steps_per_execution = 1  # see `setup`: multi-step calls fail when distributed
        return model

    def prepare(self, dataset):
        """Sets the sharding of a batched dataset: every worker reads the same batches, and
        each global batch is split across the replicas (DATA sharding: the generator has
        no files to shard by)."""
        if self.strategy is None:
            return dataset
        import tensorflow as tf

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return dataset.with_options(options)

    def iterator(self, dataset):
        """An iterator for `model.train_function`: per-replica slices of each global batch."""
        if self.strategy is None:
            return iter(dataset)
        return iter(self.strategy.experimental_distribute_dataset(self.prepare(dataset)))

    def evaluate(self, model, dataset, steps: int) -> dict:
        """`model.evaluate(dataset, steps)` as a dict of floats, across all replicas.

        `steps` is the number of batches in `dataset`.

        Under MultiWorkerMirroredStrategy, Keras 3's `evaluate` fails before its first
        step, in the symbolic build it does from a distributed batch ("Attempt to
        convert a value (PerReplica ...) to a Tensor"). The model is built already, so
        under any strategy the compiled test step is driven directly, as `evaluate`
        does after that build: reset the metrics, run every batch, read the metrics
        (summed across replicas).
        """
        if self.strategy is None:
            logs = model.evaluate(dataset, steps=steps, verbose=0, return_dict=True)
            return {k: float(v) for k, v in logs.items()}
        model.make_test_function()
        model.reset_metrics()
        batches = self.iterator(dataset)
        per_call = int(model.steps_per_execution)  # a call runs up to this many batches
        for _ in range(-(-steps // per_call)):
            model.test_function(batches)
        return {k: float(v) for k, v in model.get_metrics_result().items()}

    def stopping(self, stop) -> bool:
        """Whether training stops after this step: this process got SIGINT/SIGTERM, or —
        multi-worker — any worker did.

        The workers decide together (a one-number all-reduce per step), so all of them
        save the same checkpoint and stop at the same step: a worker that went on alone
        would wait in the next step's all-reduce for peers that are saving instead. A
        worker stopped for a peer's signal is stopped as if by SIGTERM.
        """
        if self.cluster is None:
            return stop.received is not None
        import signal

        import tensorflow as tf

        if self._any_signal is None:

            @tf.function
            def any_signal(flag):
                per_replica = self.strategy.run(tf.identity, args=(flag,))
                return self.strategy.reduce("SUM", per_replica, axis=None)

            self._any_signal = any_signal
        flag = tf.constant(0.0 if stop.received is None else 1.0)
        if float(self._any_signal(flag)) > 0 and stop.received is None:
            stop.received = signal.SIGTERM
        return stop.received is not None

    @contextlib.contextmanager
    def failures(self):
        """Turns a lost or failed peer worker (TensorFlow's collective errors) into a
        `RunError` (exit 4) that names the cluster, instead of a traceback."""
        if self.cluster is None:
            yield
            return
        import tensorflow as tf

        try:
            yield
        except (
            tf.errors.UnavailableError,
            tf.errors.DeadlineExceededError,
            tf.errors.AbortedError,
            tf.errors.CancelledError,
        ) as exc:
            raise RunError(
                f"{self.cluster.describe()} lost contact with {_lost(exc, self.cluster)} "
                f"(cluster {', '.join(self.cluster.workers)}): a worker crashed, was stopped "
                "or cannot be reached. Every worker must run until the end; restart all of "
                "them with `dltrain resume RUN_ID` on each (see docs/distributed.md)"
            ) from None

    def describe(self) -> str:
        if self.mode == "none":
            return "one device"
        where = f", this process is {self.cluster.describe()}" if self.cluster else ""
        return f"{self.mode}: {self.replicas} replica(s){where}"


def _lost(exc, cluster: Cluster) -> str:
    """Which workers TensorFlow's error names as unreachable ("another worker" if none)."""
    text = str(getattr(exc, "message", "") or exc)
    found = []
    for job, index in re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", text):
        rank = int(index) + (1 if job == "worker" and cluster.chief_job else 0)
        name = f"{job} {index} ({cluster.workers[rank]})" if rank < len(cluster.workers) else job
        if name not in found and rank != cluster.rank:
            found.append(name)
    return ", ".join(found) if found else "another worker"


_current = Distribution()
_multi_worker: Distribution | None = None


def current() -> Distribution:
    """The distribution set up by `setup` in this process (one device if none was)."""
    return _current


def _strategy(mode: str, cluster: Cluster | None):
    """The tf.distribute strategy of `mode` (mirrored, multi_worker)."""
    from dltrain import backend

    backend.load()
    import tensorflow as tf

    if mode == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except tf.errors.OpError as exc:
        raise ConfigError(
            f"cannot start {cluster.describe()}: {exc.message}. Is the port used by "
            "another program (or another training), or is the host not this machine's "
            "address? Give this worker a free port of this machine in TF_CONFIG, the same "
            "on every worker",
            where="TF_CONFIG",
        ) from None
    except (RuntimeError, ValueError) as exc:
        raise UsageError(
            f"cannot start multi-worker training: {exc}. The strategy must be created "
            "before TensorFlow runs anything, so start `dltrain train` in a fresh process"
        ) from None
    _patch_keras_scalar_reduce()
    return strategy


def _warn_settings(train, mode: str, listener: Listener) -> None:
    """Settings that do not apply as written under a strategy."""
    if train.steps_per_execution not in ("auto", 1):
        listener.warn(
            f"train.steps_per_execution {train.steps_per_execution} is ignored with "
            f"train.distribute {mode}: one step runs per call, because Keras's multi-step "
            "loop (3.15) fails on a distributed dataset, in `fit` as well"
        )
    if train.batch_size % _current.replicas:
        listener.warn(
            f"train.batch_size {train.batch_size} is not a multiple of the "
            f"{_current.replicas} replicas: each batch is split unevenly and each replica's "
            "mean loss counts equally, so samples are weighted slightly unevenly; use a "
            "multiple of the replica count for the same training as on one device"
        )


def setup(train, listener: Listener = SILENT) -> Distribution:
    """Creates the strategy for `train.distribute` and makes it current.

    Call it before TensorFlow runs any operation: MultiWorkerMirroredStrategy
    configures the collective runtime, which TensorFlow allows only at start-up, and
    so exists at most once per process.

    Args:
        train: the `train:` section (its `distribute` and `batch_size`).
        listener: told (`warn`) of settings that do not apply as written. Defaults to
            `SILENT`.

    Raises:
        ConfigError: multi_worker with a missing or malformed TF_CONFIG (exit 2).
        UsageError: multi-worker training that cannot start in this process (exit 2).
    """
    global _current, _multi_worker
    mode = train.distribute
    if mode == "none":
        _current = Distribution()
        return _current
    cluster = read_tf_config() if mode == "multi_worker" else None
    if mode == "multi_worker" and _multi_worker is not None:
        if _multi_worker.cluster != cluster:
            raise UsageError(
                "this process already joined a multi-worker cluster with another TF_CONFIG; "
                "start each multi-worker training in a fresh process"
            )
        _current = _multi_worker
        return _current
    strategy = _strategy(mode, cluster)
    _current = Distribution(mode, strategy, cluster, int(strategy.num_replicas_in_sync))
    if mode == "multi_worker":
        _multi_worker = _current
    _warn_settings(train, mode, listener)
    return _current


@contextlib.contextmanager
def run_folder(name: str):
    """Yields (run id, folder) to write: a new run for the chief; a temporary folder,
    deleted afterwards, for any other worker (run id None)."""
    if _current.is_chief:
        with _worker_interrupts():
            yield runs.create_run(name)
        return
    folder = Path(tempfile.mkdtemp(prefix=f"dltrain-{name}-worker-"))
    try:
        with _worker_interrupts():
            yield None, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _patch_keras_scalar_reduce() -> None:
    """Lets Keras 3 reduce a train/test step's logs across workers.

    Under MultiWorkerMirroredStrategy, Keras 3 (3.15 included) reduces each step's logs
    with `strategy.reduce("MEAN", v, axis=0)`, which fails for the scalar logs every
    model returns ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388). Scalars are averaged across replicas instead
    (axis=None); everything else goes to Keras unchanged. The epoch metrics dltrain
    records do not come from these logs but from the metric variables, which
    tf.distribute sums across replicas exactly.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "dltrain_patched", False):
        return

    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction not in ("auto", "mean") or not trainer._collective_all_reduce_multi_worker(
            strategy
        ):
            return original(values, strategy, reduction)

        def mean(value):
            first = strategy.experimental_local_results(value)[0]
            return strategy.reduce("MEAN", value, axis=None if first.shape.rank == 0 else 0)

        return tf.nest.map_structure(mean, values)

    reduce_per_replica.dltrain_patched = True
    trainer.reduce_per_replica = reduce_per_replica


@contextlib.contextmanager
def resume_folders(run_dir: Path):
    """Yields (lock, folder to write) for resuming `run_dir`: the chief locks the run
    and writes it; any other worker reads its checkpoints but writes to a temporary
    folder, deleted afterwards."""
    if _current.is_chief:
        with _worker_interrupts(), runs.RunLock(run_dir) as lock:
            yield lock, run_dir
        return
    folder = Path(tempfile.mkdtemp(prefix=f"dltrain-{Path(run_dir).name}-worker-"))
    try:
        (folder / "checkpoints").mkdir()
        with _worker_interrupts(), runs.RunLock(folder) as lock:
            yield lock, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def is_other_worker(run_dir: Path) -> bool:
    """Whether this process resumes `run_dir` as a non-chief worker, which neither takes
    nor needs the run's lock (read without TensorFlow; a bad file or TF_CONFIG is left
    to `resume` to report)."""
    import yaml

    try:
        raw = yaml.safe_load((Path(run_dir) / "config.yaml").read_text()) or {}
        if (raw.get("train") or {}).get("distribute") != "multi_worker":
            return False
        return not read_tf_config().is_chief
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return False


@contextlib.contextmanager
def _worker_interrupts():
    """Multi-worker: an interrupted chief says to resume on every worker; another worker
    names itself, not its temporary folder."""
    if _current.cluster is None:
        yield
        return
    try:
        yield
    except InterruptedRun as exc:
        if _current.is_chief:
            raise InterruptedRun(
                f"{exc.message}, on every worker with the same TF_CONFIG",
                signal_exit_code=exc.exit_code,
            ) from None
        how = "SIGTERM" if exc.exit_code == 143 else "Ctrl-C"
        raise InterruptedRun(
            f"{_current.cluster.describe()} stopped ({how} here or on another worker); the "
            "run is the chief's: continue it with `dltrain resume RUN_ID` on every worker",
            signal_exit_code=exc.exit_code,
        ) from None
