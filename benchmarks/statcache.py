"""A cache hit that does not re-read unchanged files: `dltrain preprocess` first, again, and
again with `--rehash`, on an image folder at 1x and 10x its size.

For each size, a folder of 64x64 grayscale PNGs (3 classes) is written, then left alone for
`statcache.RACY_SECONDS` (a file changed within that window of being hashed is not
recorded, as git's "racy" files). Fresh processes, each the whole command as a user runs
it (`python -m dltrain preprocess CONFIG`):

  first     builds the cache (reads, decodes, splits, writes shards) and the stat record;
  second    unchanged data: the stat record gives every file's digest, nothing is read;
  rehash    `--rehash`: every file is read and hashed again (what a hit cost before the
            stat record), still a cache hit.

`second` and `rehash` are the median of `--repeats` runs, interleaved. Target: second <=
5 % of first where the first takes over 10 s. Each child also lists the heavy modules it
imported (pandas, scikit-learn, Pillow, TensorFlow): a hit imports none of them.

    python benchmarks/statcache.py                   # 3,000 and 30,000 images (~2-3 min)
    python benchmarks/statcache.py --images 1000 --factors 1 10 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HEAVY = ("pandas", "sklearn", "PIL", "tensorflow", "keras", "matplotlib")
CHILD = (
    "import json, sys\n"
    "from dltrain.cli import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    if exc.code:\n"
    "        raise\n"
    f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n"
)


def make_images(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in "abc":
        (folder / c).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = rng.integers(0, 255, size=(64, 64), dtype=np.uint8)
        Image.fromarray(img).save(folder / "abc"[i % 3] / f"{i:06d}.png")


def command(config: Path, env: dict, *extra: str) -> tuple[float, list[str], str]:
    """(wall seconds, heavy modules imported, last output line) of one fresh process."""
    args = [sys.executable, "-c", CHILD, "preprocess", str(config), *extra]
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"preprocess failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    heavy = json.loads(done.stderr.strip().splitlines()[-1])
    return took, heavy, done.stdout.strip().splitlines()[-1]


def one_size(tmp: Path, n: int, repeats: int) -> dict:
    from dltrain.data import statcache

    folder = tmp / f"images-{n}"
    make_images(folder, n)
    config = tmp / f"images-{n}.yaml"
    config.write_text(
        f"name: stat-{n}\nmodel: {{architecture: cnn}}\ndata:\n  kind: images\n"
        f"  path: {folder}\n  size: [64, 64]\n"
    )
    env = {
        **os.environ,
        "DLTRAIN_CACHE": str(tmp / f"cache-{n}"),
        "DLTRAIN_RUNS": str(tmp / "runs"),
        "PYTHONPATH": str(REPO),
    }
    time.sleep(statcache.RACY_SECONDS + 0.5)  # the data is not being written any more
    first, first_heavy, _ = command(config, env)
    second, rehash = [], []
    for _ in range(repeats):
        took, hit_heavy, line = command(config, env)
        assert line.startswith("Cache hit"), line
        second.append(took)
        took, _, line = command(config, env, "--rehash")
        assert line.startswith("Cache hit"), line
        rehash.append(took)
    size = sum(p.stat().st_size for p in folder.rglob("*.png"))
    return {
        "n": n,
        "mb": size / 1e6,
        "first": first,
        "second": statistics.median(second),
        "rehash": statistics.median(rehash),
        "first_heavy": first_heavy,
        "hit_heavy": hit_heavy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3000, help="images at 1x")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dltrain-statcache-") as name:
        for factor in args.factors:
            rows.append(one_size(Path(name), args.images * factor, args.repeats))
            print(f"  {rows[-1]['n']} images done", file=sys.stderr, flush=True)
    print("\ndltrain preprocess of 64x64 PNG folders, fresh processes, wall s")
    print(
        f"{'images':>8}{'MB':>8}{'first':>9}{'second':>9}{'rehash':>9}"
        f"{'second/first':>14}{'rehash/first':>14}"
    )
    for r in rows:
        print(
            f"{r['n']:>8,}{r['mb']:>8.0f}{r['first']:>9.2f}{r['second']:>9.2f}{r['rehash']:>9.2f}"
            f"{100 * r['second'] / r['first']:>13.1f}%{100 * r['rehash'] / r['first']:>13.1f}%"
        )
    print("\nheavy modules imported: first run / cache hit")
    for r in rows:
        first, hit = (", ".join(r[k]) or "-" for k in ("first_heavy", "hit_heavy"))
        print(f"  {r['n']:>8,}: {first} / {hit}")
    print("\ntarget: second <= 5 % of first where the first takes over 10 s")
    for r in rows:
        if r["first"] > 10:
            ratio = r["second"] / r["first"]
            print(f"  {r['n']:>8,}: {100 * ratio:.1f} % {'met' if ratio <= 0.05 else 'MISSED'}")
        else:
            print(f"  {r['n']:>8,}: first run {r['first']:.1f} s (under 10 s: not judged)")


if __name__ == "__main__":
    main()
