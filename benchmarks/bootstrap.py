"""The cost of the bootstrap confidence intervals (`dltrain.evaluation.metrics.score`).

1. `score()` on 10,000 test samples with 1000 resamples, for each task's full metric list:
   binary (all 10 binary metrics), multiclass (5 classes, its 6 metrics), regression (its
   6 metrics), and binary with whole patients resampled (`groups`, 2,000 patients of 5
   samples). Target: under 2 s each on this machine (2 cores).
   Also timed on their own, to show where the time goes: drawing the resample counts
   (`bootstrap_weights`, one multinomial draw per resample) and the metrics of all
   resamples (`weighted_metrics`, vectorised over resamples).
2. What the bootstrap adds to a breast-cancer run (configs/breast_cancer.yaml): `score()`
   on its validation and test sizes (from `dltrain preprocess` into a temporary cache),
   4 calls as `dltrain train` makes them (val, test, and test for each of the 2
   baselines), with 1000 against 10 resamples (10 is the smallest allowed).

Scores are synthetic (a weakly informative score, all values distinct: the worst case for
the ROC/PR curves, which cost per distinct score). Cases are interleaved and repeated
(5 times by default), and the median and minimum are reported; other processes on the
machine slow single runs, so the minimum is the cleaner figure.

    python benchmarks/bootstrap.py             # about 1.5 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from dltrain.config.evaluate import TASK_METRICS
from dltrain.evaluation import metrics as M

TARGET_S = 2.0
N = 10_000
BOOT = 1000
ROOT = Path(__file__).resolve().parent.parent


def synthetic(task: str, n: int, seed: int = 0, n_classes: int = 5):
    """Truth and a weakly informative score for `task` (n samples)."""
    rng = np.random.default_rng(seed)
    if task == "regression":
        y = rng.normal(50, 10, n)
        return y, y + rng.normal(0, 5, n)
    if task == "binary":
        y = (rng.random(n) < 0.3).astype("int64")
        return y, np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    y = rng.integers(0, n_classes, n)
    logits = rng.normal(0, 1, (n, n_classes)) + 1.5 * np.eye(n_classes)[y]
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


def score_call(task, y, s, n_boot, n_classes, groups=None):
    return lambda: M.score(
        task,
        y,
        s,
        names=list(TASK_METRICS[task]),
        n_classes=n_classes,
        threshold=0.5,
        n_boot=n_boot,
        confidence=0.95,
        seed=43,
        groups=groups,
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(cases: dict, repeats: int) -> dict[str, list[float]]:
    """Every case once per round, `repeats` rounds; a first untimed round warms caches."""
    for fn in cases.values():
        fn()
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    return times


def breast_cancer_sizes() -> tuple[int, int]:
    """Validation and test sizes of the bundled breast-cancer split (dltrain preprocess)."""
    from dltrain.config import load_config
    from dltrain.data.cache import preprocess

    tmp = tempfile.mkdtemp(prefix="dltrain-bootbench-")
    saved = os.environ.get("DLTRAIN_CACHE")
    os.environ["DLTRAIN_CACHE"] = tmp
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        data = preprocess(load_config(ROOT / "configs" / "breast_cancer.yaml", []))
        return data.size("val"), data.size("test")
    finally:
        os.chdir(cwd)
        if saved is None:
            os.environ.pop("DLTRAIN_CACHE", None)
        else:
            os.environ["DLTRAIN_CACHE"] = saved
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (5)")
    args = parser.parse_args()

    # 1. score() on 10,000 samples, 1000 resamples
    y_b, s_b = synthetic("binary", N)
    y_m, s_m = synthetic("multiclass", N)
    y_r, s_r = synthetic("regression", N)
    patients = np.repeat(np.arange(N // 5), 5)
    weights = M.bootstrap_weights(N, M.BOOT_CHUNK, 43)
    chunks = BOOT // M.BOOT_CHUNK
    cases = {
        "binary, 10 metrics": score_call("binary", y_b, s_b, BOOT, 2),
        "multiclass (5 classes), 6 metrics": score_call("multiclass", y_m, s_m, BOOT, 5),
        "regression, 6 metrics": score_call("regression", y_r, s_r, BOOT, 0),
        "binary, 10 metrics, 2,000 patients": score_call("binary", y_b, s_b, BOOT, 2, patients),
    }

    def metrics_of(task, y, s, n_classes, names):
        return lambda: [
            M.weighted_metrics(task, y, s, weights, names, n_classes, 0.5) for _ in range(chunks)
        ]

    parts = {
        "bootstrap_weights (draw the resamples)": lambda: [
            M.bootstrap_weights(N, M.BOOT_CHUNK, 43 + k) for k in range(0, BOOT, M.BOOT_CHUNK)
        ]
    }
    for task, y, s, c in (
        ("binary", y_b, s_b, 2),
        ("multiclass", y_m, s_m, 5),
        ("regression", y_r, s_r, 0),
    ):
        names = list(TASK_METRICS[task])
        parts[f"{task}: all {len(names)} metrics"] = metrics_of(task, y, s, c, names)
        curves = [n for n in ("roc_auc", "pr_auc") if n in names]
        for name in curves:
            parts[f"{task}: {name}"] = metrics_of(task, y, s, c, [name])
        if curves:
            rest = [n for n in names if n not in curves]
            parts[f"{task}: the other {len(rest)}"] = metrics_of(task, y, s, c, rest)
    times = interleaved({**cases, **parts}, args.repeats)
    print(f"score() on {N:,} samples, {BOOT} resamples ({args.repeats} runs, seconds)")
    print(f"{'case':<44} {'median':>7} {'min':>7} {'target':>8}")
    for name in cases:
        t = times[name]
        verdict = "met" if statistics.median(t) < TARGET_S else "MISSED"
        print(
            f"{name:<44} {statistics.median(t):>7.3f} {min(t):>7.3f} "
            f"{'< ' + format(TARGET_S, 'g') + ' s':>8} {verdict}"
        )
    print()
    print(f"where the time goes: the same {BOOT} resamples on {N:,} samples, in chunks of")
    print(f"{M.BOOT_CHUNK} as score() does (weighted_metrics: the metrics of every resample)")
    print(f"{'part':<44} {'median':>7} {'min':>7}")
    for name in parts:
        t = times[name]
        print(f"{name:<44} {statistics.median(t):>7.3f} {min(t):>7.3f}")

    # 2. what the bootstrap adds to a breast-cancer run
    n_val, n_test = breast_cancer_sizes()
    calls = [("val", n_val), ("test", n_test), ("baseline 1", n_test), ("baseline 2", n_test)]
    data = {name: synthetic("binary", n, seed=i) for i, (name, n) in enumerate(calls)}

    def run_all(n_boot):
        return lambda: [score_call("binary", *data[name], n_boot, 2)() for name, _ in calls]

    bc = interleaved({1000: run_all(1000), 10: run_all(10)}, args.repeats)
    print()
    print(
        f"breast cancer: score() x 4 (val n={n_val}, test n={n_test}, 2 baselines on test), "
        "binary, 10 metrics"
    )
    print(f"{'resamples':<10} {'median s':>9} {'min s':>7}")
    for n_boot, t in bc.items():
        print(f"{n_boot:<10} {statistics.median(t):>9.3f} {min(t):>7.3f}")
    added = statistics.median(bc[1000]) - statistics.median(bc[10])
    print(f"{'added':<10} {added:>9.3f}   (1000 against 10 resamples, medians)")


if __name__ == "__main__":
    main()
