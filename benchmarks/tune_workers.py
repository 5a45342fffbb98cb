"""Wall time of a 20-trial `dltrain tune` study with 1 worker vs 2 workers on one database.

Usage (from the repository root; needs a PostgreSQL URL, e.g. from .ci/postgres.sh):

    source .ci/postgres.sh && trap dltrain_postgres_stop EXIT
    python benchmarks/tune_workers.py [--storage URL] [--trials 20] [--rounds 2]

Each measurement is a fresh study (its own name) on the same database: N `dltrain tune`
processes are started together and timed from launch until the last one exits, so the
figure includes each worker's start (Python + TensorFlow import) and the study's
bookkeeping. "CPU s" is the user+system time of the workers (CPU s / wall s = the cores
they actually got), "load" the 1-minute load average when the study started (other
processes on the machine). Rounds run in the order 1, 2, 2, 1, ... so that load from other processes
on the machine falls on both variants. The trials are identical in cost (tiny tabular
MLP, 2 epochs, no pruning, no sanity suite, no final run); the script checks that each
study has exactly `--trials` completed trials and reports how many each worker ran.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CONFIG = """
name: bench
seed: 1
data: {kind: tabular, path: table.csv, target: outcome}
model: {architecture: mlp, hidden_units: [16, 8]}
train: {epochs: 2, batch_size: 32, sanity: false}
evaluate: {bootstrap: 50}
tune:
  pruner: {name: none}
  final: none
  space:
    train.optimizer.learning_rate: {log_uniform: [1.0e-4, 1.0e-1]}
    model.dropout: {uniform: [0.0, 0.5]}
    model.hidden_units: {categorical: [[8], [16, 8], [32, 16]]}
"""


def _table(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)])
    frame["outcome"] = np.where(x[:, 0] + 0.5 * x[:, 1] - x[:, 2] > 0, "yes", "no")
    return frame


def _study(
    folder: Path, storage: str, workers: int, trials: int, threads: int | None
) -> tuple[float, float, list[int]]:
    import optuna

    name = f"bench-{workers}w-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DLTRAIN_RUNS": str(folder / "runs"),
        "DLTRAIN_CACHE": str(folder / "cache"),
    }
    if threads:  # TensorFlow's own thread pools, per worker
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads))
    command = [sys.executable, "-m", "dltrain", "tune", str(folder / "exp.yaml"),
               "--storage", storage, "--study", name, "--trials", str(trials)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(workers)
    ]
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for p, err in zip(procs, errors, strict=True):
        if p.returncode != 0:
            sys.exit(f"a worker failed (exit {p.returncode}):\n{err}")
    done = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    assert len(done) == trials and {t.state.name for t in done} == {"COMPLETE"}, done
    per_worker = [
        sum(t.user_attrs["worker"]["pid"] == p.pid for t in done) for p in procs
    ]  # fmt: skip
    return wall, cpu, per_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=os.environ.get("DLTRAIN_TEST_POSTGRES_URL"))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="TF_NUM_INTRAOP_THREADS/TF_NUM_INTEROP_THREADS of every worker (default: TF's)",
    )
    args = parser.parse_args()
    if not args.storage:
        sys.exit("give --storage URL or set DLTRAIN_TEST_POSTGRES_URL (source .ci/postgres.sh)")
    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="dltrain-bench-tune-") as tmp:
        folder = Path(tmp)
        _table().to_csv(folder / "table.csv", index=False)
        (folder / "exp.yaml").write_text(CONFIG.lstrip())
        order = [w for r in range(args.rounds) for w in ((1, 2) if r % 2 == 0 else (2, 1))]
        print(
            f"{'round':>5} {'workers':>7} {'wall s':>8} {'CPU s':>7} {'load':>5}  trials per worker"
        )
        for i, workers in enumerate(order):
            load = os.getloadavg()[0]
            wall, cpu, per_worker = _study(folder, args.storage, workers, args.trials, args.threads)
            times[workers].append(wall)
            print(
                f"{i // 2 + 1:>5} {workers:>7} {wall:>8.1f} {cpu:>7.1f} {load:>5.1f}  {per_worker}",
                flush=True,
            )
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"\nmedian wall time, {args.trials} trials: 1 worker {one:.1f} s, 2 workers {two:.1f} s")
    print(f"ratio 2 workers / 1 worker: {two / one:.2f} (speed-up {one / two:.2f}x)")
    print(
        f"machine: {os.cpu_count()} CPU cores; TF threads per worker: {args.threads or 'default'}"
    )


if __name__ == "__main__":
    main()
