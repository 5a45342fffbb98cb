"""Peak memory of `dltrain preprocess` and `dltrain train` on an image dataset at 1x and 10x.

Claim under test (DESIGN.md §3): "data larger than memory streams from shards with flat
memory use". Target: the 10x peak RSS is at most 1.2x the 1x peak, for each step.

A synthetic folder-per-class dataset (3 classes of 64x64 grayscale PNG noise, each class
with its own faint pattern so the task is learnable) is written to a temporary folder at
two sizes (1500 and 15000 images by default, `data.shard_size` 256 so both span many
shards). For each size, in this order, two fresh child processes run

    python -m dltrain preprocess CONFIG     (reads and checks every image, writes the shards)
    python -m dltrain train CONFIG          (finds the cache; sanity suite, 2 epochs, test)

with DLTRAIN_CACHE and DLTRAIN_RUNS inside the temporary folder. Each child's peak RSS is
its own `ru_maxrss`, read with `os.wait4` on that child alone (not RUSAGE_CHILDREN, which
is the maximum over every child so far).

By default each child runs the same CLI through a small wrapper
(`python benchmarks/memory_images.py _child ...`, which runs the `dltrain` module exactly
as `python -m dltrain` does) that also records the peak RSS of each step inside the
command: at every entry and exit of a few dltrain functions it reads VmHWM from
/proc/self/status and resets it (`echo 5 > /proc/self/clear_refs`), so each segment's peak
is exact and the whole command's peak is the largest segment peak. `--plain` runs plain
`python -m dltrain` instead, without the breakdown.

    python benchmarks/memory_images.py             # about 1.5 minutes on 2 cores
    python benchmarks/memory_images.py --plain     # without the per-step breakdown
    python benchmarks/memory_images.py --factors 1 5 10 20   # more sizes
    python benchmarks/memory_images.py --sample 1000         # experiment, see --help
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.2  # 10x peak / 1x peak, per step
ROOT = Path(__file__).resolve().parent.parent

CONFIG = """\
name: membench
seed: 42
data:
  kind: images
  path: {path}
  size: [64, 64]
  color: grayscale
  shard_size: {shard_size}
  split: {{method: stratified, val: 0.15, test: 0.15}}
model:
  architecture: cnn
  filters: [8, 16]
train:
  epochs: 2
  batch_size: 32
  sanity: true
evaluate:
  bootstrap: 100
"""


# ---------------------------------------------------------------- the dataset


def make_images(folder: Path, n: int, seed: int = 0) -> None:
    """`n` 64x64 grayscale PNGs in three class folders: noise plus a faint class pattern."""
    import numpy as np
    from PIL import Image

    size = 64
    yy, xx = np.mgrid[0:size, 0:size]
    patterns = {
        "stripes": ((yy // 4) % 2).astype("float32"),  # horizontal stripes
        "bars": ((xx // 4) % 2).astype("float32"),  # vertical bars
        "spot": (((yy - 32) ** 2 + (xx - 32) ** 2) < 16**2).astype("float32"),  # a disc
    }
    names = list(patterns)
    for name in names:
        (folder / name).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        name = names[i % len(names)]
        noise = rng.integers(0, 200, (size, size)).astype("float32")
        img = np.clip(noise + 55 * patterns[name], 0, 255).astype("uint8")
        Image.fromarray(img).save(folder / name / f"{i:06d}.png", compress_level=1)


# ---------------------------------------------------------------- the child wrapper

# (module, attribute, label): the steps whose peak RSS is recorded separately. Each is
# looked up in its module at call time by the code that calls it, so replacing the
# module attribute is enough.
HOOKS = [
    ("dltrain.kinds", "read", "read + check every image"),
    ("dltrain.data.splits", "split_rows", "split"),
    ("dltrain.kinds.arrays", "channel_stats", "channel statistics (train)"),
    ("dltrain.data.audit", "leakage_audit", "leakage audit"),
    ("dltrain.data.cache", "Processed.split", "Processed.split (load a sample)"),
    ("dltrain.training.fit", "preprocess", "cache lookup"),
    ("dltrain.training.fit", "_rows", "dataset.json (all row numbers)"),
    ("dltrain.training.sanity", "run_suite", "sanity suite"),
    ("dltrain.training.fit", "new_model", "build model"),
    ("dltrain.training.fit", "fit_model", "fit (2 epochs)"),
    ("dltrain.training.fit", "split_scores", "predict val/test"),
    ("dltrain.training.fit", "score_split", "bootstrap metrics"),
    ("dltrain.evaluation.metrics", "fit_baselines", "fit baselines"),
    ("dltrain.training.fit", "write_predictions", "write predictions"),
    ("dltrain.training.fit", "augmented_batch", "augmented batch plot"),
    ("dltrain.training.fit", "complete", "plots + report.html"),
]


def _child(argv: list[str]) -> None:
    """Runs `python -m dltrain ARGV...` in this process, recording peak RSS per step."""
    import atexit
    import functools
    import importlib
    import runpy

    out_path = os.environ["MEMBENCH_OUT"]
    clear = open("/proc/self/clear_refs", "w")  # noqa: SIM115 (kept open for the process)

    def status(field: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])  # kB
        raise RuntimeError(field)

    stack: list[str] = []
    peaks: dict[str, int] = {}
    rises: dict[str, int] = {}
    entry = [status("VmRSS")]
    loads: list[dict] = []

    def close_segment() -> None:
        label = " > ".join(stack) if stack else "(outside the steps: imports, CLI, ...)"
        hwm = status("VmHWM")
        peaks[label] = max(peaks.get(label, 0), hwm)
        rises[label] = max(rises.get(label, 0), hwm - entry[0])
        clear.write("5")
        clear.flush()
        entry[0] = status("VmRSS")

    def wrap(fn, label):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            close_segment()
            stack.append(label)
            try:
                result = fn(*args, **kwargs)
            finally:
                close_segment()
                stack.pop()
            if label.startswith("Processed.split"):
                split = result
                loads.append(
                    {
                        "split": args[1],
                        "limit": args[2] if len(args) > 2 else kwargs.get("limit"),
                        "samples": int(len(split.y)),
                        "x_mb": round(split.x.nbytes / 2**20, 1),
                        "x_dtype": str(split.x.dtype),
                    }
                )
            return result

        return wrapper

    if argv[0] != "preprocess":  # what `dltrain train` does first; importing the training
        from dltrain import backend  # modules to hook them imports Keras

        backend.load()
    if os.environ.get("MEMBENCH_SAMPLE") and argv[0] != "preprocess":  # --sample experiment
        from dltrain.data import cache

        cache.SAMPLE_MAX = int(os.environ["MEMBENCH_SAMPLE"])
    for module_name, attribute, label in HOOKS:
        if argv[0] == "preprocess" and not module_name.startswith("dltrain.data."):
            continue  # the training modules import Keras, which preprocess never does
        module = importlib.import_module(module_name)
        owner = module
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        if hasattr(owner, name):  # a step this version of dltrain lacks is skipped
            setattr(owner, name, wrap(getattr(owner, name), label))

    def dump() -> None:
        close_segment()
        Path(out_path).write_text(
            json.dumps({"peaks_kb": peaks, "rises_kb": rises, "loads": loads})
        )

    atexit.register(dump)
    sys.argv = ["dltrain", *argv]
    runpy.run_module("dltrain", run_name="__main__", alter_sys=True)


# ---------------------------------------------------------------- the parent


def run_child(args: list[str], env: dict, phases: bool, work: Path) -> dict:
    """One fresh child; its own peak RSS (os.wait4), wall time and step breakdown."""
    out = work / "phases.json"
    out.unlink(missing_ok=True)
    if phases:
        cmd = [sys.executable, str(Path(__file__).resolve()), "_child", *args]
        env = {**env, "MEMBENCH_OUT": str(out)}
    else:
        cmd = [sys.executable, "-m", "dltrain", *args]
    log = work / "child.log"
    start = time.perf_counter()
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
    result = {"wall_s": wall, "maxrss_mb": usage.ru_maxrss / 1024}
    if phases:
        data = json.loads(out.read_text())
        result["steps_mb"] = {k: v / 1024 for k, v in data["peaks_kb"].items()}
        result["rises_mb"] = {k: v / 1024 for k, v in data["rises_kb"].items()}
        result["loads"] = data["loads"]
        # clear_refs also resets the counter ru_maxrss reads: the largest step peak is the
        # process's peak (every moment lies in exactly one step)
        result["peak_mb"] = max(result["steps_mb"].values())
    else:
        result["peak_mb"] = result["maxrss_mb"]
    return result


def measure(n: int, label: str, tmp: Path, shard_size: int, phases: bool) -> dict:
    work = tmp / label
    data = work / "images"
    t0 = time.perf_counter()
    make_images(data, n)
    made = time.perf_counter() - t0
    config = work / "membench.yaml"
    config.write_text(CONFIG.format(path=data, shard_size=shard_size))
    env = {
        **os.environ,
        "DLTRAIN_CACHE": str(work / "cache"),
        "DLTRAIN_RUNS": str(work / "runs"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    pre = run_child(["preprocess", str(config)], env, phases, work)
    train = run_child(["train", str(config)], env, phases, work)
    (cache,) = (work / "cache").iterdir()
    manifest = json.loads((cache / "manifest.json").read_text())
    shards = {s: len(manifest["split"][s]["shard_sizes"]) for s in ("train", "val", "test")}
    return {
        "label": label,
        "images": n,
        "shards": shards,
        "cache_mb": sum(p.stat().st_size for p in cache.iterdir()) / 2**20,
        "generate_s": made,
        "preprocess": pre,
        "train": train,
    }


def print_tables(results: list[dict], phases: bool, factor: int) -> None:
    base = results[0]
    print()
    print(
        f"{'size':<5} {'images':>7} {'shards':>10} {'cache MB':>9} {'preprocess MB':>14} "
        f"{'x 1x':>5} {'train MB':>9} {'x 1x':>5} {'preprocess s':>13} {'train s':>8}"
    )
    for r in results:
        s = r["shards"]
        print(
            f"{r['label']:<5} {r['images']:>7} {s['train']:>4}/{s['val']}/{s['test']:<3} "
            f"{r['cache_mb']:>9.1f} {r['preprocess']['peak_mb']:>14.0f} "
            f"{r['preprocess']['peak_mb'] / base['preprocess']['peak_mb']:>5.2f} "
            f"{r['train']['peak_mb']:>9.0f} "
            f"{r['train']['peak_mb'] / base['train']['peak_mb']:>5.2f} "
            f"{r['preprocess']['wall_s']:>13.1f} {r['train']['wall_s']:>8.1f}"
        )
    print("shards: train/val/test; peak RSS of each child process in MB (2^20 bytes)")
    large = next((r for r in results if r["label"] == f"{factor}x"), results[-1])
    for step in ("preprocess", "train"):
        ratio = large[step]["peak_mb"] / base[step]["peak_mb"]
        verdict = "met" if ratio <= TARGET else "MISSED"
        print(
            f"target {step}: {large['label']} peak <= {TARGET} x the 1x peak: "
            f"{ratio:.2f} x, {verdict}"
        )
    if not phases:
        return
    labels = [r["label"] for r in results]
    for step in ("preprocess", "train"):
        print()
        print(f"inside `dltrain {step}`: peak RSS of each step, and its rise over the RSS")
        print("when the step began (MB); nested steps are counted in their own rows")
        print(
            f"{'step':<44} "
            + " ".join(f"{'peak ' + x:>9}" for x in labels)
            + f" {'ratio':>6} "
            + " ".join(f"{'rise ' + x:>9}" for x in labels)
        )
        keys = list(dict.fromkeys(k for r in results for k in r[step]["steps_mb"]))
        for key in keys:
            peaks = [r[step]["steps_mb"].get(key, 0) for r in results]
            rises = [r[step]["rises_mb"].get(key, 0) for r in results]
            ratio = f"{peaks[-1] / peaks[0]:6.2f}" if peaks[0] and peaks[-1] else " " * 6
            print(
                f"{key[:44]:<44} "
                + " ".join(f"{p:>9.0f}" for p in peaks)
                + f" {ratio} "
                + " ".join(f"{x:>9.0f}" for x in rises)
            )
    print()
    print("arrays loaded whole by Processed.split in `dltrain train` (in call order)")
    print(f"{'size':<5} {'split':<6} {'limit':>6} {'samples':>8} {'x MB':>7} {'dtype':>6}")
    for r in results:
        for load in r["train"]["loads"]:
            print(
                f"{r['label']:<5} {load['split']:<6} {str(load['limit']):>6} "
                f"{load['samples']:>8} {load['x_mb']:>7.1f} {load['x_dtype']:>6}"
            )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1500, help="images at 1x (1500)")
    parser.add_argument(
        "--factors",
        type=int,
        nargs="+",
        default=[1, 10],
        help="sizes as multiples of --images (1 10); the target compares 10x with 1x",
    )
    parser.add_argument("--shard-size", type=int, default=256, help="data.shard_size (256)")
    parser.add_argument(
        "--plain", action="store_true", help="plain `python -m dltrain`, no per-step breakdown"
    )
    parser.add_argument(
        "--sample",
        type=int,
        help="experiment: set dltrain's SAMPLE_MAX (training/validation samples held in memory for "
        "the sanity suite and the baselines; 5000) in the wrapped child",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    phases = not args.plain
    if args.sample:
        if not phases:
            parser.error("--sample needs the wrapped child (drop --plain)")
        os.environ["MEMBENCH_SAMPLE"] = str(args.sample)
        print(f"experiment: dltrain's SAMPLE_MAX set to {args.sample} in the children")
    tmp = Path(tempfile.mkdtemp(prefix="dltrain-membench-"))
    try:
        results = []
        for factor in sorted(set(args.factors) | {1}):
            label, n = f"{factor}x", args.images * factor
            print(f"{label}: {n} images ...", flush=True)
            results.append(measure(n, label, tmp, args.shard_size, phases))
        print_tables(results, phases, factor=10)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
