"""The report's sections, each built from the run's files (`_Run`)."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

from dltrain import tasks
from dltrain.evaluation.metrics import HEADLINE, LOWER_IS_BETTER, NO_DIRECTION, PER_CLASS
from dltrain.evaluation.report.page import (
    CAPTIONS,
    DEGENERATE_NOTE,
    IN_UNITS,
    SPLIT_NAMES,
    SPLITS,
    WIDE,
    _badge,
    _ci,
    _kv,
    _num,
    _table,
    _value,
    degenerate,
    metric_name,
)
from dltrain.evaluation.report.run import _optional_text, _Run

# --- sections ------------------------------------------------------------------------------


def _header(run: _Run) -> str:
    state = run.status.get("status", "unknown")
    source = ((run.dataset or {}).get("source") or {}).get("path", "not recorded")
    when = " → ".join(str(run.status[k]) for k in ("started", "updated") if k in run.status)
    parts = [
        f"<h1>dltrain report: {escape(run.id)}</h1>",
        f'<p class="meta">status {_badge(state)} · task <b>{escape(run.task)}</b> · '
        f"data <code>{escape(str(source))}</code></p>",
    ]
    if when:
        parts.append(f'<p class="meta">started → last update {escape(when)}</p>')
    if run.status.get("message"):
        parts.append(f'<p class="meta">{escape(str(run.status["message"]))}</p>')
    if run.command:
        parts.append(f'<p class="meta">command <code>{escape(run.command.strip())}</code></p>')
    return "\n".join(parts)


def _data(run: _Run) -> str:
    d = run.dataset
    if not d:
        return "<p>dataset.json: not recorded.</p>"
    source = d.get("source") or {}
    split = d.get("split") or {}
    classes = [str(c) for c in (d.get("classes") or run.metrics.get("classes") or [])]
    out = [
        _kv(
            [
                ("source", f"<code>{escape(str(source.get('path', 'not recorded')))}</code>"),
                ("SHA-256", f"<code>{escape(str(source.get('sha256', 'not recorded')))}</code>"),
                ("rows in the source", escape(str(source.get("rows", "not recorded")))),
                ("task", escape(str(d.get("task", run.task)))),
                ("positive class", escape(str(d.get("positive_class") or "—"))),
                (
                    "split",
                    f"{escape(str(split.get('method', 'not recorded')))} "
                    f"(seed {escape(str(split.get('seed', '?')))})",
                ),
                ("features", escape(str(len(d.get("features") or [])))),
                ("missing values", _missing(run)),
            ]
        )
    ]
    rows = []
    for s in SPLITS:
        info = split.get(s) or {}
        counts = info.get("class_counts") or {}
        rows.append(
            [
                escape(SPLIT_NAMES[s]),
                escape(str(info.get("rows", len((d.get("rows") or {}).get(s, []))))),
                *(escape(str(counts.get(c, 0))) for c in classes),
                (f"<code>{escape(str(info.get('sha256', ''))[:12])}</code>", "text"),
            ]
        )
    out.append(
        _table(
            ["split", "rows", *(escape(c) for c in classes), "content hash"],
            rows,
            caption="Rows and class counts per split; the hash is the first 12 hex digits of "
            "the split's SHA-256.",
        )
    )
    features = d.get("features") or []
    if features:
        names = ", ".join(escape(str(f)) for f in features)
        out.append(f"<details><summary>{len(features)} model inputs</summary><p>{names}</p>")
        out.append("</details>")
    out.append(_audit(run))
    return "\n".join(out)


def _audit(run: _Run) -> str:
    """The leakage audit of the split, as checked when the data was preprocessed."""
    audit = run.audit
    if not audit:
        return "<h3>Leakage audit</h3><p>Not recorded for this run.</p>"
    dup = audit.get("duplicates") or {}
    across = (dup.get("across_splits") or {}).get("inputs", 0)
    within = sum((dup.get("within_split") or {}).values())
    items = [
        (
            "identical inputs in two splits",
            f"{across}" + (" (allowed by data.allow_duplicates)" if across else " — none"),
        ),
        ("repeated inputs within a split", str(within)),
    ]
    groups = audit.get("groups")
    if groups:
        n = groups.get("in_several_splits", 0)
        items.append((f"{escape(str(groups.get('column')))} groups in two splits", f"{n}"))
    classes = audit.get("classes")
    if classes:
        items.append(("classes missing from a split", str(classes.get("missing_from_a_split", 0))))
    imb = audit.get("imbalance")
    if imb:
        items.append(
            (
                "class balance (training split)",
                f"smallest class {escape(str(imb.get('minority_class')))}: "
                f"{float(imb.get('minority_share', 0)):.1%}; "
                f"{'strongly imbalanced' if imb.get('strong') else 'not strongly imbalanced'}",
            )
        )
    flags = "".join(
        f'<div class="flag warn">{escape(str(w))}</div>' for w in audit.get("warnings", [])
    )
    verdict = (
        "no leakage found"
        if not across and not (groups or {}).get("in_several_splits")
        else "see below"
    )
    return (
        f"<h3>Leakage audit</h3><p>Checked when the data was split: {verdict}.</p>"
        + _kv([(escape(k), escape(v)) for k, v in items])
        + flags
    )


def _missing(run: _Run) -> str:
    for where in (run.dataset or {}, run.manifest or {}):
        if "missing_values" in where:
            missing = where["missing_values"]
            if not missing:
                return "none"
            if isinstance(missing, dict):
                return escape(", ".join(f"{k}: {v}" for k, v in missing.items()))
            return escape(str(missing))
    return "not recorded"


def _sanity(run: _Run) -> str:
    if run.sanity is None:
        return "<p>Not recorded: this run has no sanity.json.</p>"
    checks = run.sanity.get("checks") or []
    if not checks:
        return "<p>No checks recorded.</p>"
    rows = [
        [
            escape(str(c.get("name", "?"))),
            (_badge(str(c.get("verdict", "?"))), "text"),
            _value(c.get("value")),
            _value(c.get("expected")),
            (escape(str(c.get("detail", ""))), "text"),
        ]
        for c in checks
    ]
    verdicts = [str(c.get("verdict")) for c in checks]
    order = ["PASS", "WARN", "FAIL"] + sorted(set(verdicts) - {"PASS", "WARN", "FAIL"})
    summary = ", ".join(f"{verdicts.count(v)} {v}" for v in order)
    return f"<p>{escape(summary)}.</p>" + _table(
        ["check", "verdict", "value", "expected", "detail"], rows
    )


def _metrics(run: _Run) -> str:
    m = run.metrics
    baselines: dict = m.get("baselines") or {}
    splits = [s for s in ("val", "test") if m.get(s)]
    names: list[str] = []
    for s in splits:
        names += [n for n in m[s] if n not in names]
    headline = HEADLINE.get(run.task)

    def arrow(name: str) -> str:
        if name in NO_DIRECTION:
            return ""
        return " ↓" if name in LOWER_IS_BETTER else " ↑"

    unit = run.unit

    def shown(value, name):
        return _ci(value, unit if name in IN_UNITS else "")

    rows = [
        [
            metric_name(name) + arrow(name),
            *(shown(m[s].get(name), name) for s in splits),
            *(shown(b.get(name), name) for b in baselines.values()),
        ]
        for name in names
    ]
    flat = [v for s in splits for v in m[s].values()]
    flat += [v for b in baselines.values() for v in b.values()]
    n = m.get("n") or {}
    header = [
        "metric",
        *(f"model, {SPLIT_NAMES[s]} (n={escape(str(n.get(s, '?')))})" for s in splits),
        *(f"{escape(b)} baseline, test" for b in baselines),
    ]
    pct = round(float(m.get("confidence") or 0.95) * 100)
    caption = (
        f"Value and {pct}% percentile-bootstrap interval ({escape(str(m.get('bootstrap')))} "
        "resamples). ↑ higher is better, ↓ lower is better. Baselines are fitted on the "
        f"training split and scored on test. The headline metric ({metric_name(headline)}) "
        "is highlighted."
    )
    if any(degenerate(v) for v in flat if isinstance(v, dict)):
        caption += f" {DEGENERATE_NOTE}."
    if unit:
        caption += f" Errors and limits of agreement are in {escape(unit.strip())}."
    table = _table(
        header,
        rows,
        caption=caption,
        row_class=lambda i: "headline" if names[i] == headline else None,
    )
    warnings = "".join(
        f'<div class="flag warn">{escape(str(w))}</div>' for w in run.metrics.get("warnings", [])
    )
    return warnings + _baseline_flag(run, headline) + table


def _baseline_flag(run: _Run, headline: str | None) -> str:
    """A visible verdict: does the model beat every baseline on the headline test metric?"""
    m = run.metrics
    test = (m.get("test") or {}).get(headline or "")
    if not test or test.get("value") is None:
        return (
            f'<div class="flag warn">The headline metric {escape(str(headline))} was not '
            "recorded on test, so the model is not compared with the baselines.</div>"
        )
    from dltrain.evaluation.report.summary import TIE, WORSE, verdict

    said = {TIE: [], WORSE: []}
    for name, b in (m.get("baselines") or {}).items():
        ref = b.get(headline) or {}
        if ref.get("value") is None:
            continue
        found = verdict(headline, test, ref)
        if found in said:
            said[found].append(
                f"the <b>{escape(name)}</b> baseline ({_num(test['value'])} vs "
                f"{_num(ref['value'])})"
            )
    what = metric_name(headline)
    if said[WORSE]:
        return (
            f'<div class="flag bad"><b>The model is worse than</b> {"; ".join(said[WORSE])} on '
            f"test {what}, by more than the intervals: revisit the data and the model before "
            "using it.</div>"
        )
    if said[TIE]:
        return (
            f'<div class="flag warn"><b>A tie</b> with {"; ".join(said[TIE])} on test {what}: '
            "the 95% intervals overlap, so the model cannot be told apart from the simpler "
            "one on this test set.</div>"
        )
    return f'<div class="flag good">The model beats every baseline on test {what}.</div>'


def _operating_point(run: _Run) -> str:
    task = tasks.get(run.task)
    if not task.has_classes:
        return f"<p>Not applicable: a {task.name} model has no decision threshold.</p>"
    if not task.thresholded:
        return "<p>Each sample is assigned its most probable class; there is no threshold.</p>"
    op = run.metrics.get("operating_point")
    if not op:
        t = run.metrics.get("threshold")
        return f"<p>Threshold {_num(t)}; how it was chosen is not recorded.</p>"
    positive = escape(str(run.metrics.get("positive_class")))
    chosen = op.get("chosen_on")
    how = (
        "chosen on the validation split and frozen before the test split was scored"
        if chosen == "val"
        else "fixed in the config (evaluate.threshold)"
        if chosen == "config"
        else f"chosen on {escape(str(chosen))}"
    )
    items = [
        ("rule", escape(str(op.get("rule")))),
        ("threshold", _num(op.get("value"), 4)),
        ("decision", f"{positive} when P({positive}) ≥ {_num(op.get('value'), 4)}"),
        ("chosen", how),
    ]
    if op.get("target") is not None:
        items.append(("target", _num(op["target"])))
    items += [
        ("validation sensitivity", _num(op.get("val_sensitivity"))),
        ("validation specificity", _num(op.get("val_specificity"))),
    ]
    return _kv(items)


def _per_class(run: _Run) -> str:
    per = run.metrics.get("per_class") or {}
    out = []
    for split in ("test", "val"):
        table = per.get(split)
        if not table:
            continue
        rows = [
            [
                escape(str(c)),
                escape(str(v.get("support", ""))),
                *(_num(v.get(k)) for k in PER_CLASS),
            ]
            for c, v in table.items()
        ]
        out.append(f"<h3>{escape(SPLIT_NAMES[split])} split</h3>")
        out.append(_table(["class", "support", *PER_CLASS], rows))
    if not out:
        return "<p>Not recorded.</p>"
    return (
        "<p class=muted>One-vs-rest: each class against all the others "
        "(ppv = precision, npv = negative predictive value).</p>\n" + "\n".join(out)
    )


def _confusion(run: _Run) -> str:
    conf = run.metrics.get("confusion") or {}
    classes = [str(c) for c in run.metrics.get("classes") or []]
    out = []
    for split in ("test", "val"):
        cm = conf.get(split)
        if not cm:
            continue
        rows = [
            [
                f"<b>{escape(classes[i] if i < len(classes) else str(i))}</b>",
                *((str(v), "diag") if i == j else str(v) for j, v in enumerate(row)),
            ]
            for i, row in enumerate(cm)
        ]
        header = ["true ↓ / predicted →", *(escape(c) for c in classes)]
        out.append(f"<h3>{escape(SPLIT_NAMES[split])} split</h3>")
        out.append(_table(header, rows))
    return "\n".join(out) or "<p>Not recorded.</p>"


def _plots(paths: list[Path]) -> str:
    if not paths:
        return "<p>No plots.</p>"
    figures = []
    for path in paths:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        caption = CAPTIONS.get(path.stem, path.stem.replace("_", " "))
        wide = ' class="wide"' if path.stem in WIDE else ""
        figures.append(
            f'<figure{wide} id="plot-{escape(path.stem)}">'
            f'<img src="data:image/png;base64,{data}" alt="{escape(caption)}">'
            f"<figcaption>{escape(caption)} <code>plots/{escape(path.name)}</code></figcaption>"
            "</figure>"
        )
    return '<div class="plots">\n' + "\n".join(figures) + "\n</div>"


UNUSED = ("tune",)  # sections `dltrain train` never reads


def _config(run: _Run) -> str:
    """The resolved config, without what this run did not use (the tune section, settings
    left unset); config.yaml in the run folder holds all of it."""
    import yaml

    if run.config is None:
        return "<p>config.yaml: not recorded.</p>"
    settings = run.settings
    if not settings:
        return f"<pre>{escape(run.config)}</pre>"
    used = _without_unset({k: v for k, v in settings.items() if k not in UNUSED})
    text = yaml.safe_dump(used, sort_keys=False, allow_unicode=True)
    return (
        "<p class=muted>The resolved config (defaults filled in), without the settings this "
        "run did not use (the tune section, options left unset); the run's config.yaml holds "
        f"all of it and re-creates the run.</p><pre>{escape(text)}</pre>"
    )


def _without_unset(value, top: bool = True):
    """Drops null settings (options not used), except data.target (null means no label)."""
    if isinstance(value, dict):
        return {
            k: _without_unset(v, False)
            for k, v in value.items()
            if v is not None or (k == "target" and not top)
        }
    return value


def _environment(run: _Run) -> str:
    if not run.environment:
        return "<p>environment.json: not recorded.</p>"
    items = [
        (
            escape(str(k)),
            escape(v if isinstance(v, str) else json.dumps(v)),
        )
        for k, v in run.environment.items()
    ]
    return _kv(items)


def _stages(run_dir: Path) -> str:
    """Two-stage fine-tuning: the epochs, learning rate and validation loss of each stage,
    from history.csv's `stage` column and the resolved config; empty without stages."""
    import csv

    import yaml

    path = run_dir / "history.csv"
    if not path.is_file():
        return ""
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("stage")]
    if not rows:
        return ""
    config = yaml.safe_load(_optional_text(run_dir / "config.yaml") or "{}") or {}
    train = config.get("train") or {}
    ft = train.get("fine_tune") or {}
    rate = {
        "1": (train.get("optimizer") or {}).get("learning_rate"),
        "2": ft.get("learning_rate"),
    }
    unfreeze = ft.get("unfreeze", "all")
    what = {
        "1": "backbone frozen (batch norm in inference mode); the rest trained",
        "2": f"backbone unfrozen: {unfreeze}"
        + ("" if ft.get("batch_norm") else "; batch-norm layers still frozen"),
    }
    table = []
    for stage in ("1", "2"):
        part = [r for r in rows if r["stage"].split(".")[0] == stage]
        if not part:
            continue
        first, last = int(part[0]["epoch"]) + 1, int(part[-1]["epoch"]) + 1
        table.append(
            [
                stage,
                f"{first}–{last}",
                escape(str(rate[stage])),
                (escape(what[stage]), "text"),
                _num(float(part[-1]["val_loss"]), 4),
            ]
        )
    return _table(
        ["stage", "epochs", "learning rate", "trained", "last val_loss"],
        table,
        caption="Two-stage fine-tuning (train.fine_tune); every epoch's stage is in history.csv",
    )
