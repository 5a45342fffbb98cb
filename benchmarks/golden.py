"""Golden outputs of the bundled example configs: did a refactor change any result?

    python benchmarks/golden.py record before.json          # train every bundled config
    python benchmarks/golden.py record after.json
    python benchmarks/golden.py compare before.json after.json

`record` trains each config in configs/ with its own settings (each in a new process, in a
temporary folder, on a copy of data/) and stores what the run produced: metrics.json,
history.csv, the test predictions, and a digest of every variable of every resume
checkpoint (weights, optimiser slots, seed-generator states) and of best.keras's weights.
`compare` says, per config, whether metrics agree to 1e-6 and the checkpoints are the same
bit for bit. Options: `--only NAME` (repeatable) trains some configs only; `--set K=V`
(repeatable) is passed to every `dltrain train` (e.g. train.epochs=3 for a quick check).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-6


def _digest_npz(data: bytes) -> dict:
    out = {}
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        for key in sorted(f.files):
            array = f[key]
            out[key] = hashlib.sha256(
                str(array.dtype).encode() + str(array.shape).encode() + array.tobytes()
            ).hexdigest()[:16]
    return out


def _digest_keras_weights(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return hashlib.sha256(z.read("model.weights.h5")).hexdigest()[:16]


def record_one(config: Path, overrides: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "data", root / "data", ignore=shutil.ignore_patterns("processed"))
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("DLTRAIN_RUNS", None)
        env.pop("DLTRAIN_CACHE", None)
        args = [sys.executable, "-m", "dltrain", "train", str(config)]
        for item in overrides:
            args += ["--set", item]
        started = time.perf_counter()
        out = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if out.returncode != 0:
            return {"error": (out.stdout + out.stderr)[-2000:]}
        run = next((root / "runs").iterdir())
        checkpoints = {
            p.name: _digest_npz(p.read_bytes()) for p in sorted((run / "checkpoints").glob("*.npz"))
        }
        return {
            "seconds": round(seconds, 1),
            "metrics": json.loads((run / "metrics.json").read_text()),
            "sanity": json.loads((run / "sanity.json").read_text())
            if (run / "sanity.json").exists()
            else None,
            "history": (run / "history.csv").read_text(),
            "predictions": hashlib.sha256((run / "predictions/test.csv").read_bytes()).hexdigest(),
            "checkpoints": checkpoints,
            "best_weights": _digest_keras_weights(run / "checkpoints" / "best.keras"),
            "model_weights": _digest_keras_weights(run / "model.keras"),
        }


def _close(a, b, path="") -> list[str]:
    """Where two JSON values differ (numbers to TOLERANCE)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only in one" for k in set(a) ^ set(b)]
        for k in set(a) & set(b):
            out += _close(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} vs {len(b)}"]
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in _close(x, y, f"{path}[{i}]")]
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return [] if abs(a - b) <= TOLERANCE else [f"{path}: {a} vs {b}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def compare(before: dict, after: dict) -> int:
    bad = 0
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a is None or b is None or "error" in a or "error" in b:
            print(f"{name}: cannot compare ({'missing' if a is None or b is None else 'error'})")
            bad += 1
            continue
        problems = _close(a["metrics"], b["metrics"], "metrics")
        problems += _close(a["sanity"], b["sanity"], "sanity")
        for key in ("history", "predictions", "checkpoints", "best_weights", "model_weights"):
            if a[key] != b[key]:
                problems.append(f"{key} differ")
        verdict = "same" if not problems else "DIFFERENT"
        print(f"{name}: {verdict} ({a['seconds']} s vs {b['seconds']} s)")
        for p in problems[:10]:
            print(f"    {p}")
        bad += bool(problems)
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--only", action="append", default=[])
    rec.add_argument("--set", dest="overrides", action="append", default=[])
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "compare":
        return compare(json.loads(args.before.read_text()), json.loads(args.after.read_text()))
    results = {}
    for config in sorted((REPO / "configs").glob("*.yaml")):
        if args.only and config.stem not in args.only:
            continue
        print(f"training {config.name} ...", flush=True)
        results[config.stem] = record_one(config, args.overrides)
        print(f"  {results[config.stem].get('seconds', 'failed')} s", flush=True)
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
