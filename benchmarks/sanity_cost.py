"""What the sanity suite costs on the five workloads of `benchmarks/speed.py`.

For each workload the data is written and preprocessed as `speed.py` does (its
`write_data`/`write_config`, 3 epochs), then the suite runs once, as `dltrain train` runs
it (`sanity.run_suite`, framework state set by `session.checking`), with each check timed
(`time.perf_counter` around the module's check functions) and its training steps read
from the check's detail ("N steps"). The verdict cache is not used: this is the suite's
own cost, as on a first run.

    python benchmarks/sanity_cost.py                 # all five workloads
    python benchmarks/sanity_cost.py --only mlp lstm --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

TIMED = ("_Fresh", "initial_loss", "overfit_batch", "input_independent", "baseline_references")
TIMED += ("leaking_features", "measure_step", "Budget")


def _timed(module, seconds: dict) -> None:
    """Wraps each of the suite's steps that the module has so that it adds up its seconds."""
    for name in TIMED:
        original = getattr(module, name, None)
        if original is None or not callable(original):
            continue

        def wrapper(*args, _name=name, _original=original, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                seconds[_name] = seconds.get(_name, 0.0) + time.perf_counter() - started

        setattr(module, name, wrapper)


def steps_of(check) -> int | None:
    """The training steps a check used: its `steps` (since issue 16), else read from the
    old detail ("memorised in N steps"; input_independent trained two arms of N steps)."""
    if getattr(check, "steps", None) is not None:
        return check.steps
    found = re.search(r"(?:in|after) (\d+) steps", check.detail)
    if not found:
        return None
    return int(found.group(1)) * (2 if check.name == "input_independent" else 1)


def measure(name: str, spec: dict, folder: Path) -> dict:
    from speed import write_config, write_data

    from dltrain.config import load_config
    from dltrain.training import sanity
    from dltrain.training.session import checking

    modules = [sanity]
    for extra in ("sanity_fit", "sanity_data"):
        try:
            modules.append(__import__(f"dltrain.training.{extra}", fromlist=["_"]))
        except ImportError:  # before issue 16
            pass

    data_section = write_data(name, spec, folder)
    config = load_config(write_config(name, spec, data_section, folder, epochs=3))
    seconds: dict = {}
    with checking(config) as session:
        _ = session.feed, session.data.transform
        for module in modules:
            _timed(module, seconds)
        started, cpu = time.perf_counter(), time.process_time()
        checks = sanity.run_suite(
            config, session.task_name, session.n_classes, session.data, session.feed
        )
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        run_steps = session.steps
    return {
        "workload": name,
        "run_steps": run_steps,
        "seconds": round(total, 2),
        "cpu_seconds": round(cpu, 2),
        "parts": {k: round(v, 2) for k, v in seconds.items()},
        "checks": [
            {"name": c.name, "verdict": c.verdict, "steps": steps_of(c), "detail": c.detail}
            for c in checks
        ],
    }


def main() -> None:
    from speed import WORKLOADS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="dltrain-sanity-cost-") as tmp:
        os.environ["DLTRAIN_CACHE"] = str(Path(tmp) / "cache")
        os.environ["DLTRAIN_RUNS"] = str(Path(tmp) / "runs")
        for name in args.only:
            folder = Path(tmp) / name
            folder.mkdir()
            results.append(measure(name, WORKLOADS[name], folder))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(f"\n{'workload':<13}{'run steps':>10}{'suite s':>9}{'CPU s':>8}  per check: steps")
    for r in results:
        parts = "; ".join(
            f"{c['name']} {c['verdict']} {c['steps'] if c['steps'] is not None else '-'}"
            for c in r["checks"]
            if not c["name"].startswith("baseline_")
        )
        head = f"{r['workload']:<13}{r['run_steps']:>10}{r['seconds']:>9.1f}"
        print(f"{head}{r['cpu_seconds']:>8.1f}  {parts}")
        print(f"{'':<32}  " + ", ".join(f"{k} {v:.1f} s" for k, v in r["parts"].items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
