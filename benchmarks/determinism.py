"""The speed cost of `train.deterministic: true` (TensorFlow op determinism) against false.

Models: the bundled breast-cancer MLP (configs/breast_cancer.yaml, 60 epochs) and digits
CNN (configs/digits.yaml, 30 epochs), every epoch trained (`--set
train.early_stopping=null --set train.sanity=false`). Op determinism is process-global, so
every run is its own `dltrain train` process; on and off alternate (on, off / off, on / on,
off), 3 runs each, interleaved with the other model, so load from other processes falls
on both alike. The cache is built once per model by `dltrain preprocess` beforehand.

Each run is `python -m dltrain train ...` run through a small wrapper (`python
benchmarks/determinism.py _child ...`, which runs the `dltrain` module as `python -m
dltrain` does) that times `fit_model` (all epochs, with per-epoch validation and
checkpoints) and `finish` (predict val/test, bootstrap metrics, baselines) with
`time.perf_counter`; the wall time of the whole command is measured too.

Reported: the median of each, the ratio on/off of the medians, and whether the
deterministic runs of a model wrote identical test metrics (metrics.json "test", every
value and CI bound). Target: none fixed; PERFORMANCE-NOTES.md measured the cost of op
determinism "within noise" on hand-written Keras loops, and this checks that it holds
for dltrain.

    python benchmarks/determinism.py          # about 3.5 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"breast-cancer MLP": "configs/breast_cancer.yaml", "digits CNN": "configs/digits.yaml"}
FIXED = ["--set", "train.early_stopping=null", "--set", "train.sanity=false"]
ORDERS = [(True, False), (False, True)]  # alternated from one repetition to the next


def _child(argv: list[str]) -> None:
    """Runs `python -m dltrain ARGV...` in this process, timing fit_model and finish."""
    import atexit
    import functools
    import runpy

    from dltrain import backend

    backend.load()  # what `dltrain train` does first; importing fit imports Keras
    from dltrain.training import fit

    times: dict[str, float] = {}

    def timed(fn, label):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[label] = times.get(label, 0.0) + time.perf_counter() - start

        return wrapper

    fit.fit_model = timed(fit.fit_model, "fit")
    fit.finish = timed(fit.finish, "finish")
    atexit.register(lambda: Path(os.environ["DETBENCH_OUT"]).write_text(json.dumps(times)))
    sys.argv = ["dltrain", *argv]
    runpy.run_module("dltrain", run_name="__main__", alter_sys=True)


def run(cmd: list[str], env: dict, log: Path) -> float:
    start = time.perf_counter()
    with open(log, "wb") as f:
        code = subprocess.call(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if code != 0:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise SystemExit(f"{' '.join(cmd)} exited with {code}")
    return wall


def train(config: str, deterministic: bool, env: dict, tmp: Path, extra: list[str]) -> dict:
    out = tmp / "times.json"
    out.unlink(missing_ok=True)
    runs_dir = Path(env["DLTRAIN_RUNS"])
    before = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    flag = "true" if deterministic else "false"
    cmd = [sys.executable, str(Path(__file__).resolve()), "_child", "train", config]
    cmd += [*FIXED, "--set", f"train.deterministic={flag}", *extra]
    wall = run(cmd, {**env, "DETBENCH_OUT": str(out)}, tmp / "train.log")
    times = json.loads(out.read_text())
    (run_dir,) = set(runs_dir.iterdir()) - before
    metrics = json.loads((run_dir / "metrics.json").read_text())
    env_json = json.loads((run_dir / "environment.json").read_text())
    assert env_json["deterministic"] is deterministic, env_json
    return {"wall": wall, "fit": times["fit"], "finish": times["finish"], "test": metrics["test"]}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting (3)")
    parser.add_argument(
        "--set", dest="extra", action="append", default=[], help="extra --set for every run"
    )
    args = parser.parse_args()
    extra = [x for item in args.extra for x in ("--set", item)]
    tmp = Path(tempfile.mkdtemp(prefix="dltrain-detbench-"))
    env = {
        **os.environ,
        "DLTRAIN_CACHE": str(tmp / "cache"),
        "DLTRAIN_RUNS": str(tmp / "runs"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    try:
        for config in MODELS.values():  # build the caches outside the timed runs
            pre = [sys.executable, "-m", "dltrain", "preprocess", config]
            run(pre, env, tmp / "preprocess.log")
        results = {(m, d): [] for m in MODELS for d in (True, False)}
        for rep in range(args.repeats):
            for model, config in MODELS.items():
                for det in ORDERS[rep % 2]:
                    r = train(config, det, env, tmp, extra)
                    results[model, det].append(r)
                    print(
                        f"run {rep + 1}: {model:<18} deterministic={str(det).lower():<5} "
                        f"fit {r['fit']:6.2f} s  finish {r['finish']:5.2f} s  "
                        f"whole command {r['wall']:6.2f} s",
                        flush=True,
                    )
        print_table(results, args.repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(results: dict, repeats: int) -> None:
    print()
    print(f"median of {repeats} runs each, seconds; ratio = deterministic on / off")
    print(
        f"{'model':<18} {'part':<14} {'on':>7} {'off':>7} {'ratio':>6}   "
        f"{'on: min-max':>13} {'off: min-max':>13}"
    )
    for model in MODELS:
        on, off = results[model, True], results[model, False]
        for key, part in (
            ("fit", "fit (epochs)"),
            ("finish", "finish (test)"),
            ("wall", "command"),
        ):
            a = [r[key] for r in on]
            b = [r[key] for r in off]
            ma, mb = statistics.median(a), statistics.median(b)
            print(
                f"{model:<18} {part:<14} {ma:>7.2f} {mb:>7.2f} {ma / mb:>6.3f}   "
                f"{min(a):>6.2f}-{max(a):<6.2f} {min(b):>6.2f}-{max(b):<6.2f}"
            )
    print()
    print("identical metrics.json test values (every metric's value, low, high)")
    for model in MODELS:
        for det in (True, False):
            tests = [r["test"] for r in results[model, det]]
            same = all(t == tests[0] for t in tests[1:])
            name = "on " if det else "off"
            print(
                f"{model:<18} deterministic {name}: {len(tests)} runs "
                f"{'identical' if same else 'DIFFER'}"
            )
    on_vs_off = {
        model: results[model, True][0]["test"] == results[model, False][0]["test"]
        for model in MODELS
    }
    for model, same in on_vs_off.items():
        print(f"{model:<18} on vs off: {'identical' if same else 'differ'}")


if __name__ == "__main__":
    main()
