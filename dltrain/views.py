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
    the paired bootstrap when the run recorded its decisions, else (older runs) when the
    95% intervals overlap (a tie) or the model is worse: the verdict the report gives."""
    decisions = metrics.get("baseline_decisions")
    if decisions:
        from dltrain.evaluation.decision import BETTER, describe

        pct = int(round(metrics.get("confidence", 0.95) * 100))
        for name, d in decisions.items():
            if d.get("decision") != BETTER:
                console.warn(f"on test, the model is {describe(name, d, pct)}")
        return
    from dltrain.config.evaluate import HEADLINE
    from dltrain.evaluation.report.summary import TIE, WORSE, verdict

    key = HEADLINE.get(metrics.get("task"))
    test = metrics.get("test", {}).get(key)
    if not test or test.get("value") is None:
        return
    for name, b in metrics.get("baselines", {}).items():
        ref = b.get(key) or {}
        if ref.get("value") is None:
            continue
        found = verdict(key, test, ref)
        shown = f"test {key} {test['value']:.3f} vs {ref['value']:.3f}"
        if found == WORSE:
            console.warn(f"the model is worse than the {name} baseline ({shown})")
        elif found == TIE:
            console.warn(
                f"the model ties with the {name} baseline ({shown}; the 95% intervals overlap): "
                "a simpler model does as well on this test set"
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
    # the title on its own line: a table's title wraps to the table's width
    kind, source = manifest.get("kind", "tabular"), manifest["source"]["path"]
    console.info(f"{kind} data: {manifest['task']} on {source}")
    console.table(None, columns, rows)
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


def model_layers(config, result) -> None:
    """`dltrain check`: the model's layers, output shapes and parameters."""
    trainable, frozen = result.params
    console.table(
        f"Model {config.model.architecture}: {trainable:,} trainable, {frozen:,} non-trainable "
        "parameters",
        ["layer", "type", "output shape", "parameters"],
        [[n, t, s, f"{p:,}"] for n, t, s, p in result.layers],
    )


def check_json(config, result) -> dict:
    """`dltrain check --json`: the data summary, the model and the sanity verdicts."""
    from dataclasses import asdict

    manifest = result.manifest
    trainable, frozen = result.params
    return {
        "config": config.name,
        "data": {
            "kind": manifest.get("kind", "tabular"),
            "task": manifest["task"],
            "classes": manifest.get("classes") or [],
            "split": manifest["split"],
            "audit": manifest.get("audit"),
            "cache": str(result.cache),
            "cache_hit": result.hit,
        },
        "model": {
            "architecture": config.model.architecture,
            "trainable_parameters": trainable,
            "non_trainable_parameters": frozen,
            "layers": [
                {"name": n, "type": t, "output_shape": s, "parameters": p}
                for n, t, s, p in result.layers
            ],
        },
        "sanity": [asdict(c) for c in result.checks],
        "passed": all(c.verdict != "FAIL" for c in result.checks),
    }


def run_json(run) -> dict:
    """`dltrain runs --json`: one run's id, status, task and headline test metric."""
    from dltrain import tasks
    from dltrain.errors import RunError

    entry: dict[str, Any] = {"id": run.id, "folder": str(run.dir)}
    try:
        status = run.status
        entry.update(status=status.status.value, started=status.started, phase=status.phase)
        entry["stopping"] = getattr(status, "stopping", None)
    except RunError:
        entry["status"] = "unreadable"
    if (run.dir / "metrics.json").is_file():
        try:
            metrics = run.metrics
        except RunError:
            return {**entry, "metrics": "unreadable"}
        task = tasks.TASKS.get(metrics.task)
        headline = task.headline if task is not None else None
        value = metrics.test.get(headline) if headline else None
        entry.update(
            task=metrics.task,
            headline={"metric": headline, **(value.model_dump() if value else {})},
        )
    return entry


def examples(found: list) -> None:
    """`dltrain init` without data: the bundled example configs."""
    if not found:
        console.info(
            "No configs/ folder here. Write a starter config for your data with: "
            "dltrain init DATA (a CSV/Parquet table, an .npy array or a folder)"
        )
        return
    console.table("Example configs", ["config", "what it does"], [[str(p), d] for p, d in found])
    console.info("Train one with: dltrain train CONFIG; or write your own: dltrain init DATA")


def starter(path: Path, found) -> None:
    """`dltrain init`: what was found, and the file written."""
    console.info(f"{found.path}: {found.kind}, {found.samples} samples")
    for note in found.notes:
        console.info(f"  - {note}")
    console.info(f"Wrote {path}. Check it, then: dltrain check {path} && dltrain train {path}")


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


def study_result(result) -> None:
    """`dltrain tune`: the study's trial counts, the best trial and the final run."""
    from dltrain.tuning import BEST_YAML

    counts = ", ".join(f"{n} {state.lower()}" for state, n in result.counts.items())
    console.info(f"Study {result.study} ({result.storage}): {counts}")
    if result.best is None:
        console.info("Other workers are still running trials; the last one writes best.yaml.")
        return
    best = result.best
    spread = f" ± {best['cv']['std']:.4f} over folds" if best.get("cv") else ""
    console.info(f"Best trial {best['number']}: {best['value']:.4f}{spread} {best['params']}")
    console.info(f"Best config: {result.folder / BEST_YAML}")
    if result.final is not None:
        metrics(result.final.metrics, f"Final run {result.final.run_id} (best config)")
        console.info(f"Run folder: {result.final.run_dir}")


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
