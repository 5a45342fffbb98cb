"""Start-up and cache costs: `dltrain --help`, `dltrain check`, a cached `preprocess`, hashing.

1. `dltrain --help` against `python -c "import typer, pydantic, yaml, rich"` (the floor
   of any Typer + Pydantic CLI), fresh processes, interleaved; target <= 1.5x.
2. `dltrain check configs/breast_cancer.yaml` wall time (imports TensorFlow, builds the
   model, runs the sanity suite), and `dltrain --help` for comparison.
3. `dltrain preprocess` of an image folder twice: the second run finds the cache and the
   stat record (no file is read again; `benchmarks/statcache.py` does this at 1x and 10x
   and with `--rehash`); target: second <= 5 % of the first, whole command and inside.
4. The fingerprint on a 1 GB folder of image files: `sha256_files(source_files(config))`
   streams every file through SHA-256; reported in MB/s next to a bare hashlib read loop.

    python benchmarks/startup.py                 # all four (about 3 min)
    python benchmarks/startup.py --gb 0.25       # a smaller hashing folder
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return took


def help_vs_imports(repeats: int) -> None:
    cases = {
        "dltrain --help": [sys.executable, "-m", "dltrain", "--help"],
        "import typer, pydantic, yaml, rich": [
            sys.executable,
            "-c",
            "import typer, pydantic, yaml, rich",
        ],
        "dltrain train --help": [sys.executable, "-m", "dltrain", "train", "--help"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for name, cmd in cases.items():
            times[name].append(timed(cmd))
    med = {k: statistics.median(v) for k, v in times.items()}
    floor = med["import typer, pydantic, yaml, rich"]
    print(f"\n1. start-up, median of {repeats} fresh processes (s)")
    for name, value in med.items():
        print(f"   {name:<38} {value:6.3f}   x floor {value / floor:5.2f}")
    ratio = med["dltrain --help"] / floor
    print(
        f"   target dltrain --help <= 1.5 x floor: {ratio:.2f} x, "
        f"{'met' if ratio <= 1.5 else 'MISSED'}"
    )


def check_time(tmp: Path) -> None:
    env = {**os.environ, "DLTRAIN_CACHE": str(tmp / "cache"), "DLTRAIN_RUNS": str(tmp / "runs")}
    cmd = [sys.executable, "-m", "dltrain", "check", str(REPO / "configs/breast_cancer.yaml")]
    first = timed(cmd, env, REPO)  # also fills the cache
    again = [timed(cmd, env, REPO) for _ in range(3)]
    print("\n2. dltrain check configs/breast_cancer.yaml (wall s)")
    print(
        f"   first (preprocesses too) {first:6.2f}   cached, median of 3 "
        f"{statistics.median(again):6.2f}"
    )


def make_images(folder: Path, n: int, side: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("a", "b", "c"):
        (folder / c).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = rng.integers(0, 255, size=(side, side), dtype=np.uint8)
        Image.fromarray(img).save(folder / "abc"[i % 3] / f"{i:06d}.png")


def cached_preprocess(tmp: Path, n: int) -> None:
    from dltrain.data import statcache

    images = tmp / "images"
    make_images(images, n, 64)
    time.sleep(statcache.RACY_SECONDS + 0.5)  # files changed just now are not recorded
    config = tmp / "images.yaml"
    config.write_text(
        f"name: startup-images\nmodel: {{architecture: cnn}}\ndata:\n  kind: images\n"
        f"  path: {images}\n  size: [64, 64]\n"
    )
    env = {**os.environ, "DLTRAIN_CACHE": str(tmp / "cache"), "DLTRAIN_RUNS": str(tmp / "runs")}
    cmd = [sys.executable, "-m", "dltrain", "preprocess", str(config)]
    first = timed(cmd, env)
    second = statistics.median(timed(cmd, env) for _ in range(3))

    # inside the process: the function `preprocess` alone, first build vs cache hit
    os.environ.update(DLTRAIN_CACHE=str(tmp / "cache-inside"))
    from dltrain.config import load_config
    from dltrain.data.cache import preprocess

    cfg = load_config(config)
    started = time.perf_counter()
    built = preprocess(cfg)
    inside_first = time.perf_counter() - started
    hits = []
    for _ in range(3):
        started = time.perf_counter()
        hit = preprocess(cfg)
        hits.append(time.perf_counter() - started)
    assert not built.hit and hit.hit
    inside_second = statistics.median(hits)
    print(f"\n3. dltrain preprocess, {n} PNG images of 64x64, first vs unchanged second run")
    print(
        f"   whole command: first {first:6.2f} s, second {second:6.2f} s "
        f"({100 * second / first:4.1f} %)"
    )
    print(
        f"   preprocess() : first {inside_first:6.2f} s, second {inside_second:6.3f} s "
        f"({100 * inside_second / inside_first:4.1f} %)"
    )
    ratio = second / first
    print(
        f"   target second <= 5 % of first (whole command): {100 * ratio:.1f} %, "
        f"{'met' if ratio <= 0.05 else 'MISSED'}"
    )


def hashing(tmp: Path, gigabytes: float) -> None:
    """Files of random bytes named *.png: hashing reads bytes and never decodes them."""
    folder = tmp / "big"
    size = 256 * 1024
    count = int(gigabytes * (1 << 30) / size)
    rng = np.random.default_rng(1)
    for c in ("a", "b"):
        (folder / c).mkdir(parents=True)
    block = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
    for i in range(count):
        (folder / "ab"[i % 2] / f"{i:06d}.png").write_bytes(i.to_bytes(8, "little") + block[8:])
    total_mb = count * size / 1e6
    config = tmp / "big.yaml"
    config.write_text(
        f"name: big\nmodel: {{architecture: cnn}}\ndata:\n  kind: images\n  path: {folder}\n"
    )
    from dltrain.config import load_config
    from dltrain.data.cache import sha256_files
    from dltrain.kinds.paths import source_files

    cfg = load_config(config)
    rates, bare = [], []
    for _ in range(3):
        started = time.perf_counter()
        sha256_files(source_files(cfg))
        rates.append(total_mb / (time.perf_counter() - started))
        started = time.perf_counter()
        for path in sorted(folder.rglob("*.png")):
            hashlib.sha256(path.read_bytes()).digest()
        bare.append(total_mb / (time.perf_counter() - started))
    print(f"\n4. fingerprint of {count} files, {total_mb:,.0f} MB (page cache warm)")
    print(f"   dltrain sha256_files(source_files)  {statistics.median(rates):7.0f} MB/s")
    print(f"   bare hashlib.sha256(read_bytes)     {statistics.median(bare):7.0f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--gb", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dltrain-startup-") as name:
        tmp = Path(name)
        help_vs_imports(args.repeats)
        check_time(tmp)
        cached_preprocess(tmp, args.images)
        hashing(tmp, args.gb)


if __name__ == "__main__":
    main()
