"""`dltrain compare RUN_A RUN_B`: a paired bootstrap of the metric differences B − A.

Both runs must have scored the same test samples: the same source file
(SHA-256), the same test rows and the same true values. Each resample draws the
test rows (or, when a run's config has `data.group`, whole groups) once and
scores both runs on it, so the noise the two runs share cancels in the
difference. Each run keeps its own frozen decision threshold.

The p-value reported for each metric is the two-sided bootstrap quantity
``p = min(1, 2 × min(P(d ≤ 0), P(d ≥ 0)))``, where ``d`` are the resampled
differences B − A (resamples in which a metric is undefined are left out). It
is the smallest two-sided level at which the percentile interval would just
reach 0: small when the interval lies far from 0. It is not an exact test, and
its resolution is 2 / resamples (0 means no resample on one side of 0).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dltrain import records, runs, tasks
from dltrain.config import ExperimentConfig
from dltrain.errors import DataError, RunError, UsageError
from dltrain.evaluation import metrics as M
from dltrain.evaluation.decision import paired_differences
from dltrain.evaluation.paired_tests import delong, mcnemar

DEFAULT_BOOTSTRAP = 1000
P_VALUE = (
    "two-sided bootstrap p = min(1, 2 * min(share of resampled differences <= 0, share >= 0)); "
    "resamples where a metric is undefined are left out"
)


@dataclass(frozen=True)
class Comparison:
    """The result of `compare_runs` and where it was written."""

    result: dict
    path: Path


@dataclass(frozen=True)
class _Scored:
    """What one finished run predicted for its test rows, in row order."""

    id: str
    dir: Path
    config: ExperimentConfig
    dataset: records.DatasetRecord
    threshold: float | None
    confidence: float
    rows: np.ndarray
    y: np.ndarray
    scores: np.ndarray
    groups: np.ndarray | None  # the test rows' groups, when the predictions record them
    classes: list[str]


def compare_runs(run_a: str, run_b: str, n_boot: int = DEFAULT_BOOTSTRAP) -> Comparison:
    """Compares two finished runs on their common test split with a paired bootstrap.

    Args:
        run_a: the reference run id (A).
        run_b: the run compared with it (B); differences are B − A.
        n_boot: bootstrap resamples. Defaults to 1000.

    Returns:
        The comparison (also written to `runs/<B>/comparisons/<A>.json`).

    Raises:
        UsageError: a run id does not exist, or `n_boot` is out of range (exit 2).
        DataError: the runs differ in task, classes or test samples (exit 3).
        RunError: a run is not completed or its files are missing (exit 4).

    Example:
        >>> c = compare_runs("breast-cancer-1", "breast-cancer-2")
        >>> c.result["metrics"]["roc_auc"]["difference"]
        0.012
    """
    if not 10 <= n_boot <= 100_000:
        raise UsageError(f"--bootstrap must be between 10 and 100000. Received: {n_boot}")
    a, b = _load(run_a), _load(run_b)
    _same_test_samples(a, b)
    task, classes = a.dataset.fitted_task, list(a.classes)
    groups, resampled = _groups(a, b)
    confidence = max(a.confidence, b.confidence)  # the wider interval when they differ
    seed = a.config.seed
    names = [
        n
        for n in M.default_metrics(task)
        if n != "anomaly_roc_auc" or len(np.unique(a.y)) == 2  # needs labelled anomalies
    ]
    metrics = paired_bootstrap(a, b, task, names, n_boot, seed, groups, confidence)
    result = {
        "a": a.id,
        "b": b.id,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "task": task,
        "classes": classes,
        "test_set": {
            "rows": int(len(a.rows)),
            "source_sha256": a.dataset.source.sha256,
            "sha256": {"a": _test_sha(a), "b": _test_sha(b)},
            "same_preprocessing": _test_sha(a) == _test_sha(b),
        },
        "thresholds": {"a": a.threshold, "b": b.threshold},
        "difference": "B - A",
        "bootstrap": n_boot,
        "confidence": confidence,
        "seed": seed,
        "resampled": resampled,
        "p_value": P_VALUE,
        "metrics": metrics,
        "tests": classic_tests(a, b, task, confidence, groups),
    }
    path = runs.run_subdir(b.dir, "comparisons") / f"{a.id}.json"
    runs.write_json(path, result)
    return Comparison(result, path)


def paired_bootstrap(a, b, task: str, names, n_boot: int, seed: int, groups, confidence):
    """Each metric's B − A with its percentile CI: both runs scored on the same resamples."""
    n_classes = len(a.classes)
    point_a = _points(task, n_classes, a, names)
    point_b = _points(task, n_classes, b, names)
    draws = paired_differences(
        task, names, a.y, (a.scores, _t(a)), (b.scores, _t(b)), n_classes, n_boot, seed, groups
    )
    return {
        name: _difference(name, point_a[name], point_b[name], draws[name], confidence)
        for name in names
    }


def classic_tests(a, b, task: str, confidence: float, groups) -> dict:
    """DeLong's test of the ROC-AUCs (binary) and McNemar's test of the accuracies at each
    run's frozen threshold (binary, multiclass), beside the paired bootstrap; None where a
    test does not apply (or DeLong's AUCs are undefined)."""
    the_task = tasks.get(task)
    out: dict = {"delong": None, "mcnemar": None}
    if not the_task.exclusive:
        return out
    if task == "binary" and len(np.unique(a.y)) == 2:
        out["delong"] = {"metric": "roc_auc", **delong(a.y, a.scores, b.scores, confidence)}
    right_a = the_task.decisions(a.scores, _t(a)) == a.y
    right_b = the_task.decisions(b.scores, _t(b)) == b.y
    out["mcnemar"] = {"metric": "accuracy", **mcnemar(right_a, right_b)}
    if groups is not None:
        out["note"] = (
            "DeLong and McNemar assume independent samples and ignore the groups; the paired "
            "bootstrap resamples whole groups"
        )
    return out


def summary(result: dict) -> tuple[str, list[str], list[list[str]], str]:
    """The comparison as a table: (title, columns, rows, caption) for `console.table`."""
    a, b = result["a"], result["b"]
    rows = []
    for name, m in result["metrics"].items():
        if m["difference"] is None:
            diff = "n/a"
        elif m["low"] is None:
            diff = f"{m['difference']:+.3f}"
        else:
            diff = f"{m['difference']:+.3f} ({m['low']:+.3f} to {m['high']:+.3f})"
        favours = {"a": f"A ({a})", "b": f"B ({b})"}.get(m["favours"], "")
        rows.append([name, _fmt(m["a"]), _fmt(m["b"]), diff, _fmt_p(m), favours])
    pct = int(round(result["confidence"] * 100))
    rows += _test_rows(result, a, b)
    unit = "patients (groups)" if result["resampled"] != "rows" else "rows"
    thresholds = result["thresholds"]
    caption = (
        f"Paired bootstrap: {result['bootstrap']} resamples of the test {unit}, each scored for "
        f"both runs; B − A with its {pct}% percentile CI. p = 2 × min(share of resampled "
        "differences ≤ 0, share ≥ 0), a bootstrap p-value, not an exact test. favours: the "
        "better run where the CI excludes 0"
    )
    if thresholds["a"] is not None or thresholds["b"] is not None:
        caption += f". Thresholds: A {thresholds['a']}, B {thresholds['b']}"
    tests = result.get("tests") or {}
    if tests.get("delong") or tests.get("mcnemar"):
        caption += (
            ". DeLong: z-test of the ROC-AUCs with DeLong's variance (its CI is normal). "
            "McNemar: the accuracies' discordant samples (exact binomial below 25, else "
            "chi-square with continuity correction)"
        )
    if tests.get("note"):
        caption += f". {tests['note']}"
    title = f"{b} (B) − {a} (A) on the same {result['test_set']['rows']} test rows"
    return (
        title,
        ["metric", f"A {a}", f"B {b}", f"B − A ({pct}% CI)", "p", "favours"],
        rows,
        caption,
    )


def _test_rows(result: dict, a: str, b: str) -> list[list[str]]:
    """The table rows of DeLong's and McNemar's tests (runs compared before them have none)."""
    tests = result.get("tests") or {}
    alpha = 1 - result["confidence"]
    rows = []
    d = tests.get("delong")
    if d:
        diff = f"{d['difference']:+.3f} ({d['low']:+.3f} to {d['high']:+.3f})"
        favours = ""
        if d["p"] is not None and d["p"] < alpha:
            favours = f"A ({a})" if d["difference"] < 0 else f"B ({b})"
        p = "n/a" if d["p"] is None else f"{d['p']:.3g}"
        rows.append(["roc_auc, DeLong", _fmt(d["auc_a"]), _fmt(d["auc_b"]), diff, p, favours])
    m = tests.get("mcnemar")
    if m:
        counts = f"A only right {m['a_only']}, B only right {m['b_only']}"
        better = f"A ({a})" if m["a_only"] > m["b_only"] else f"B ({b})"
        favours = better if m["p"] < alpha else ""
        acc = result["metrics"].get("accuracy") or {}
        rows.append(
            [
                "accuracy, McNemar",
                _fmt(acc.get("a")),
                _fmt(acc.get("b")),
                counts,
                f"{m['p']:.3g}",
                favours,
            ]
        )
    return rows


def _load(run_id: str) -> _Scored:
    run = records.Run.find(run_id).completed("test predictions to compare")
    dataset, metrics = run.dataset, run.metrics
    rows = np.asarray(dataset.rows["test"], dtype="int64")
    classes = list(dataset.classes)
    y, scores, groups = _predictions(
        run.dir / "predictions" / "test.csv", run_id, dataset.fitted_task, classes, rows
    )
    return _Scored(
        run_id,
        run.dir,
        run.config,
        dataset,
        metrics.threshold,
        float(metrics.confidence),
        rows,
        y,
        scores,
        groups,
        classes,
    )


def _predictions(path: Path, run_id: str, task: str, classes: list[str], rows: np.ndarray):
    """(true values, scores, groups or None) from predictions/test.csv, in row order."""
    the_task = tasks.get(task)
    text = {"id": str, "group": str}
    if the_task.has_classes:
        text.update(true=str, predicted=str)
    try:
        table = pd.read_csv(path, dtype=text, keep_default_na=False)
    except FileNotFoundError:
        raise RunError(f"{path} is missing; run {run_id} has no test predictions") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None
    missing = [c for c in ["row", *the_task.needed_columns(classes)] if c not in table.columns]
    if missing:
        raise RunError(f"{path} lacks the column(s) {', '.join(missing)}; the run is damaged")
    table = table.sort_values("row", kind="stable")
    if not np.array_equal(table["row"].to_numpy(dtype="int64"), np.sort(rows) + 1):
        raise RunError(
            f"{path} does not hold the test rows recorded in {path.parent.parent}/dataset.json; "
            "the run folder is damaged or was edited"
        )
    groups = table["group"].to_numpy(dtype=str) if "group" in table.columns else None
    try:
        y, scores = the_task.read_predictions(table, classes)
    except ValueError as exc:
        raise RunError(f"{path} has {exc}") from None
    return y, scores, groups


def _same_test_samples(a: _Scored, b: _Scored) -> None:
    """Refuses runs whose test samples or targets differ (a paired comparison needs both)."""
    how = "; train both from the same data file with the same split settings and seed"
    if a.dataset.fitted_task != b.dataset.fitted_task:
        raise DataError(
            f"run {a.id} is a {a.dataset.fitted_task} task and run {b.id} a "
            f"{b.dataset.fitted_task} "
            "task; only runs of the same task can be compared"
        )
    if a.classes != b.classes:
        raise DataError(
            f"runs {a.id} and {b.id} have different classes ({a.classes} vs {b.classes}, "
            "positive class last); set the same data.target and data.positive_class"
        )
    if a.dataset.source.sha256 != b.dataset.source.sha256:
        raise DataError(
            f"runs {a.id} and {b.id} were trained on different data files (their SHA-256 "
            f"differ), so their test splits are not the same samples{how}"
        )
    if not np.array_equal(a.rows, b.rows):
        only_a, only_b = np.setdiff1d(a.rows, b.rows), np.setdiff1d(b.rows, a.rows)
        raise DataError(
            f"the test splits of {a.id} ({len(a.rows)} rows) and {b.id} ({len(b.rows)} rows) "
            f"differ: {len(only_a)} row(s) only in {a.id}, {len(only_b)} only in {b.id}{how}"
        )
    floats = np.issubdtype(a.y.dtype, np.floating)
    same = np.allclose(a.y, b.y) if floats else np.array_equal(a.y, b.y)
    if not same:
        raise DataError(
            f"runs {a.id} and {b.id} have the same test rows but different true values; they "
            "predict different targets and cannot be compared"
        )


def _groups(a: _Scored, b: _Scored) -> tuple[np.ndarray | None, str]:
    """The group of each test row when either run's config has `data.group` (run A's first)."""
    run = a if a.config.data.group else b
    column = run.config.data.group
    if column is None:
        return None, "rows"
    if run.groups is not None:  # recorded with the predictions (runs since 2026-12)
        groups = run.groups
        return groups, f"groups of {column!r} ({len(np.unique(groups))} groups)"
    if run.config.data.kind != "tabular":
        raise RunError(
            f"run {run.id} resamples by {column!r}, but its predictions/test.csv does not "
            "record the groups (it was trained by an earlier dltrain); train it again"
        )
    from dltrain.data import tabular
    from dltrain.data.cache import sha256_file

    source = Path(records.data_source(run.dataset)[0])
    if not source.is_file() or sha256_file(source) != run.dataset.source.sha256:
        raise DataError(
            f"run {run.id} resamples by {column!r}, whose values are read from {source}, but "
            "that file is missing or has changed since training; restore the original file"
        )
    frame = tabular.read_table(source, run.config.data)
    if column not in frame.columns:
        raise DataError(f"the group column {column!r} is not in {source}")
    groups = frame[column].astype("string").to_numpy()[run.rows].astype(str)
    return groups, f"groups of {column!r} ({len(np.unique(groups))} groups)"


def _points(task: str, n_classes: int, run: _Scored, names: list[str]) -> dict[str, float]:
    """Point estimates of the metrics (scikit-learn) with the run's own threshold."""
    out = {}
    functions = M.metric_functions(task, n_classes, _t(run))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn in ((n, functions[n]) for n in names):
            try:
                out[name] = float(fn(run.y, run.scores))
            except ValueError:
                out[name] = float("nan")
    return out


def _difference(name: str, a: float, b: float, d: np.ndarray, confidence: float) -> dict:
    d = d[~np.isnan(d)]
    low = high = p = None
    if len(d):
        alpha = (1 - confidence) / 2
        low, high = (float(v) for v in np.quantile(d, [alpha, 1 - alpha]))
        p = min(1.0, 2 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))
    favours = None
    if low is not None and name not in M.NO_DIRECTION and (low > 0 or high < 0):
        higher = "b" if low > 0 else "a"
        favours = higher if name not in M.LOWER_IS_BETTER else {"a": "b", "b": "a"}[higher]
    return {
        "a": _num(a),
        "b": _num(b),
        "difference": _num(b - a),
        "low": _num(low),
        "high": _num(high),
        "p": _num(p),
        "resamples": int(len(d)),
        "favours": favours,
    }


def _t(run: _Scored) -> float:
    """The run's frozen threshold; non-binary tasks ignore it."""
    return 0.5 if run.threshold is None else float(run.threshold)


def _test_sha(run: _Scored) -> str | None:
    return run.dataset.split.get("test", {}).get("sha256")


def _num(value) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 6)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _fmt_p(m: dict) -> str:
    if m["p"] is None:
        return "n/a"
    if m["p"] == 0:
        return f"<{2 / m['resamples']:.2g}"
    return f"{m['p']:.3f}"
