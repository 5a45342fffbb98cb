"""What the commands show: their results as tables and lines (through `dltrain.console`).

The CLI calls one function per result; none of them computes anything.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from dltrain import console
from dltrain.errors import UsageError


def ci(m: dict) -> str:
    if m.get("value") is None:
        return "n/a"
    if m.get("low") is None:
        return f"{m['value']:.3f}"
    return f"{m['value']:.3f} ({m['low']:.3f}–{m['high']:.3f})"


def metrics(metrics: dict, title: str) -> None:
    splits = [s for s in ("val", "test") if s in metrics]
    baselines = metrics.get("baselines", {})
    names = list(metrics[splits[0]]) if splits else []
    columns = ["metric", *splits, *(f"{b} (test)" for b in baselines)]
    rows = [
        [n, *(ci(metrics[s][n]) for s in splits), *(ci(baselines[b][n]) for b in baselines)]
        for n in names
    ]
    decisions = metrics.get("baseline_decisions") or {}
    if decisions and baselines:  # runs trained before the decision rule have none
        rows.append(
            [
                "model vs baseline",
                *("" for _ in splits),
                *(_decision_cell(decisions.get(b)) for b in baselines),
            ]
        )
    pct = int(round(metrics.get("confidence", 0.95) * 100))
    caption = f"value ({pct}% bootstrap CI, {metrics.get('bootstrap')} resamples)"
    if metrics.get("threshold") is not None:
        caption += f"; threshold {metrics['threshold']} on P({metrics.get('positive_class')})"
    console.table(title, columns, rows, caption=caption)
    for warning in metrics.get("warnings", []):
        console.warn(warning)
    flag_baselines(metrics)


def _decision_cell(d: dict | None) -> str:
    """The paired-bootstrap decision against one baseline, for the metrics table."""
    if not d:
        return ""
    if d.get("low") is None:
        return str(d.get("decision"))
    return (
        f"{d['decision']} on {d['metric']}: {d['difference']:+.3f} "
        f"({d['low']:+.3f} to {d['high']:+.3f})"
    )


def flag_baselines(metrics: dict) -> None:
    """Warns of each baseline the model is not better than on the headline test metric: by
    the paired bootstrap when the run recorded its decisions, else by the point estimates."""
    decisions = metrics.get("baseline_decisions")
    if decisions:
        from dltrain.evaluation.decision import BETTER, describe

        pct = int(round(metrics.get("confidence", 0.95) * 100))
        for name, d in decisions.items():
            if d.get("decision") != BETTER:
                console.warn(f"on test, the model is {describe(name, d, pct)}")
        return
    from dltrain.config.evaluate import HEADLINE, better

    task = metrics.get("task")
    key = HEADLINE.get(task)
    test = metrics.get("test", {}).get(key)
    if not test or test.get("value") is None:
        return
    for name, b in metrics.get("baselines", {}).items():
        value = b.get(key, {}).get("value")
        if value is not None and not better(key, test["value"], value):
            console.warn(
                f"the model does not beat the {name} baseline on test {key} "
                f"({test['value']:.3f} vs {b[key]['value']:.3f})"
            )


def sanity(checks) -> None:
    colour = {"PASS": "green", "WARN": "yellow", "FAIL": "red", "INFO": "blue"}
    rows = [
        [
            c.name,
            f"[{colour[c.verdict]}]{c.verdict}[/]",
            "" if c.value is None else c.value,
            "" if c.expected is None else c.expected,
            c.detail,
        ]
        for c in checks
    ]
    console.table(
        "Sanity checks", ["check", "verdict", "value", "expected", "detail"], rows, markup=True
    )


def dataset(manifest: dict, path: Path, hit: bool) -> None:
    split = manifest["split"]
    classes = manifest.get("classes") or []
    columns = ["split", "rows", *classes]
    rows = [
        [s, split[s]["rows"], *(split[s].get("class_counts", {}).get(c, "") for c in classes)]
        for s in ("train", "val", "test")
    ]
    kind = manifest.get("kind", "tabular")
    source = manifest["source"]["path"]
    console.table(f"{kind} data: {manifest['task']} on {source}", columns, rows)
    cols = manifest["columns"]
    if manifest.get("kind", "tabular") == "tabular":
        inputs = (
            f"{len(cols['numeric'])} numeric and {len(cols['categorical'])} categorical "
            f"input column(s) → {len(manifest['features'])} features"
        )
    else:
        shards = sum(len(split[s]["shard_sizes"]) for s in ("train", "val", "test"))
        inputs = (
            f"{manifest['kind']}: input shape {tuple(manifest['input_shape'])}, "
            f"{manifest['source']['files']} source file(s), {shards} cache shard(s)"
        )
    console.info(f"{inputs}; split {split['method']} (seed {split['seed']})")
    if manifest.get("missing_values"):
        console.info(f"Missing values (filled from train statistics): {manifest['missing_values']}")
    audit = manifest.get("audit")
    if audit:
        across = audit["duplicates"]["across_splits"]["inputs"]
        within = sum(audit["duplicates"]["within_split"].values())
        found = [f"{across} input(s) in two splits" if across else "no input in two splits"]
        if audit["groups"]:
            n, column = audit["groups"]["in_several_splits"], audit["groups"]["column"]
            found.append(f"{n or 'no'} {column!r} group(s) in two splits")
        if within:
            found.append(f"{within} repeated input(s) within a split")
        console.info(f"Leakage audit: {'; '.join(found)}")
        for warning in audit["warnings"]:
            console.warn(warning)
    console.info(f"{'Cache hit' if hit else 'Written'}: {path}")


def study_runs(study: str) -> None:
    from dltrain.tuning import study_runs

    rows = []
    for r in study_runs(study):
        link = r["link"]
        fold = link.get("fold")
        rows.append(
            [
                r["id"],
                link.get("role", "trial"),
                link.get("trial", link.get("best_trial", "")),
                "" if not fold else f"{fold['index'] + 1}/{fold['folds']}",
                r["status"].get("status", "?"),
                "" if link.get("value") is None else f"{link['value']:.4f}",
                " ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in (link.get("params") or {}).items()
                ),
            ]
        )
    if not rows:
        raise UsageError(f"no runs of study {study!r}; start it with: dltrain tune CONFIG")
    columns = ["run", "role", "trial", "fold", "status", "value", "params"]
    console.table(f"Runs of study {study}", columns, rows)


class StudyDisplay:
    """`dltrain tune`'s `dltrain.tuning.Reporter`: a live table of a study's trials (all
    workers', the newest `SHOWN`), and warnings for lost trials and missing plots."""

    SHOWN = 15

    def __init__(self):
        self._stack = contextlib.ExitStack()
        self._live = None

    def trials_started(self, progress) -> None:
        self._live = self._stack.enter_context(console.live(self._table(progress)))

    def trial_changed(self, progress) -> None:
        if self._live is not None:
            self._live.update(self._table(progress))

    def trials_ended(self) -> None:
        self._live = None
        self._stack.close()

    def trials_lost(self, study: str, numbers: list[int]) -> None:
        console.warn(
            f"trial(s) {', '.join(map(str, numbers))} of study {study!r} were left running by "
            "a worker that stopped; marked failed, and new trials replace them"
        )

    def plot_failed(self, study: str, filename: str, reason: str) -> None:
        console.warn(f"no {filename} for study {study!r}: {reason}")

    def _table(self, progress):
        rows = []
        for t in progress.rows[-self.SHOWN :]:
            value = "" if t.value is None else f"{t.value:.4f}"
            if t.cv_std is not None:
                value += f" ± {t.cv_std:.4f}"
            rows.append(
                [
                    str(t.number),
                    "RUNNING (here)" if t.number == progress.running else t.state,
                    value,
                    *(_short(t.params.get(k, "")) for k in progress.keys),
                    t.note[:80],
                ]
            )
        return console.make_table(
            f"Study {progress.study}: {progress.metric} ({progress.waiting} trial(s) waiting)",
            ["trial", "state", progress.metric, *progress.keys, "note"],
            rows,
        )


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
