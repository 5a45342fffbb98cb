"""The report's verdict against the baselines: each one's decision by a paired bootstrap.

`baselines_section(run)` returns the section's HTML from metrics.json alone ("baselines",
"baseline_decisions", "baseline_details"); a run trained before the decisions were
recorded gets a note instead. Every text from the run is escaped.
"""

from __future__ import annotations

from html import escape

from dltrain.evaluation.decision import BETTER, TIE, UNDEFINED, WORSE, verdict

FAMILIES = {
    "trivial": "class priors or the training mean (ignores the inputs)",
    "linear": "regularised logistic or ridge regression (PCA for an autoencoder)",
    "boosting": "histogram gradient boosting (scikit-learn)",
    "neighbour": "1-nearest-neighbour, Euclidean",
}
FEATURES = {
    "flat": "the inputs as stored (encoded features, pixels, raw series)",
    "tfidf": "TF-IDF of word 1- and 2-grams of the token ids",
    "znorm": "each series z-normalised per channel",
}
LOOK = {BETTER: "good", TIE: "warn", WORSE: "bad", UNDEFINED: "warn"}


def baselines_section(run) -> str:
    """The model against every baseline on the headline test metric (HTML)."""
    m = run.metrics
    decisions: dict = m.get("baseline_decisions") or {}
    if not decisions:
        return (
            "<p>This run recorded no paired-bootstrap decisions against its baselines (it was "
            "trained by an earlier dltrain); the metrics table compares point estimates only. "
            "Train it again to decide.</p>"
        )
    pct = round(float(m.get("confidence") or 0.95) * 100)
    details: dict = m.get("baseline_details") or {}
    rows = "".join(_row(name, d, details.get(name) or {}) for name, d in decisions.items())
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "baseline",
            "model, test",
            "baseline, test",
            f"model − baseline ({pct}% CI)",
            "decision",
            "how it was fitted",
        )
    )
    caption = (
        f"The headline metric on the test split. Each resample of the paired bootstrap "
        f"({escape(str(m.get('bootstrap')))} resamples, whole groups when the data has a group "
        f"column) scores the model and the baseline on the same samples. <b>better</b>: the "
        f"{pct}% interval of the difference lies on the model's side of 0; <b>worse</b>: on "
        "the baseline's; otherwise <b>no detectable difference</b>. Every baseline is fitted "
        "on the training split, tuned on the validation split only, and scored once on test."
    )
    table = (
        f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return _flag(decisions) + table


def _flag(decisions: dict) -> str:
    beats, named = verdict(decisions)
    metric = escape(str(next(iter(decisions.values())).get("metric")))
    if beats:
        return (
            f'<div class="flag good">The model is better than every baseline on test {metric} '
            "(paired bootstrap).</div>"
        )
    parts = []
    if named[WORSE]:
        parts.append(f"<b>worse than</b> {escape(', '.join(named[WORSE]))}")
    if named[TIE]:
        parts.append(f"<b>not detectably different from</b> {escape(', '.join(named[TIE]))}")
    if named[UNDEFINED]:
        parts.append(f"undecided against {escape(', '.join(named[UNDEFINED]))}")
    look = "bad" if named[WORSE] else "warn"
    return (
        f'<div class="flag {look}">On test {metric}, the model is {"; ".join(parts)}. A simpler '
        "model does as well: prefer it, or show why the deep model is needed.</div>"
    )


def _row(name: str, d: dict, detail: dict) -> str:
    decision = str(d.get("decision", UNDEFINED))
    if d.get("low") is None:
        diff = _num(d.get("difference"), signed=True)
    else:
        diff = (
            f"{_num(d.get('difference'), signed=True)} ({_num(d['low'], signed=True)} to "
            f"{_num(d['high'], signed=True)})"
        )
    cells = [
        f"<td><b>{escape(name)}</b></td>",
        f"<td>{_num(d.get('model'))}</td>",
        f"<td>{_num(d.get('baseline'))}</td>",
        f"<td>{diff}</td>",
        f'<td class="text"><span class="flag {LOOK.get(decision, "warn")}" '
        f'style="padding:1px 6px;margin:0">{escape(decision)}</span></td>',
        f'<td class="text">{_fitted(detail)}</td>',
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _fitted(detail: dict) -> str:
    if not detail:
        return "not recorded"
    parts = [FAMILIES.get(detail.get("family"), str(detail.get("family")))]
    if detail.get("family") != "trivial":
        parts.append("on " + FEATURES.get(detail.get("features"), str(detail.get("features"))))
    tuned = detail.get("tuned") or {}
    if tuned:
        chosen = ", ".join(f"{k} = {v}" for k, v in tuned.items())
        parts.append(f"chosen on validation: {chosen}")
    if detail.get("threshold") is not None:
        parts.append(f"threshold {_num(detail['threshold'], 4)} (the model's rule, on validation)")
    return escape("; ".join(parts))


def _num(value, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
