"""The report's first section, in plain language, and the training section (why it stopped).

The summary says what was predicted, on how many samples (and patients), the headline
metric with its interval, whether the model beats the simple baselines (a tie is called
a tie) and what that means for the reader.
"""

from __future__ import annotations

from html import escape

from dltrain import tasks
from dltrain.evaluation.metrics import HEADLINE, better
from dltrain.evaluation.report.page import MEANINGS, _ci, _num, metric_name
from dltrain.evaluation.report.run import _Run

BETTER, TIE, WORSE = "better", "tie", "worse"


def verdict(headline: str, model: dict, baseline: dict) -> str:
    """The model against one baseline on the headline metric, for a run that recorded no
    paired-bootstrap decision: "better" or "worse" when the 95% intervals do not overlap,
    else "tie" (the difference may be chance).

    Intervals that overlap can still hide a real difference; a paired comparison (`dltrain
    compare`) is the sharper test. Without intervals, equal shown values are a tie.
    """
    a, b = model.get("value"), baseline.get("value")
    if a is None or b is None or round(a, 3) == round(b, 3):
        return TIE
    lows, highs = (model.get("low"), baseline.get("low")), (model.get("high"), baseline.get("high"))
    if None in lows or None in highs:
        return BETTER if better(headline, a, b) else WORSE
    overlap = model["low"] <= baseline["high"] and baseline["low"] <= model["high"]
    if overlap:
        return TIE
    return BETTER if better(headline, a, b) else WORSE


def verdicts_of(m: dict, headline: str | None, test: dict) -> dict[str, str]:
    """Baseline name → better / tie / worse on test: the run's paired-bootstrap decision
    (metrics.json "baseline_decisions"), or for a run without one, `verdict`."""
    from dltrain.evaluation import decision

    named = {decision.BETTER: BETTER, decision.TIE: TIE, decision.WORSE: WORSE}
    decided = m.get("baseline_decisions") or {}
    out = {}
    for name, b in (m.get("baselines") or {}).items():
        d = named.get((decided.get(name) or {}).get("decision"))
        if d is None and test.get("value") is not None:
            d = verdict(headline, test, b.get(headline) or {})
        if d is not None:
            out[name] = d
    return out


def summary(run: _Run) -> str:
    """The plain-language summary: what, on whom, how well, against what, so what."""
    m = run.metrics
    headline = HEADLINE.get(run.task)
    test = (m.get("test") or {}).get(headline or "") or {}
    parts = [
        f"<p><b>What was predicted.</b> {_what(run)}</p>",
        f"<p><b>Tested on.</b> {_whom(run)}</p>",
    ]
    if test.get("value") is not None:
        meaning = MEANINGS.get(headline or "", "").format(
            positive=escape(str(m.get("positive_class") or "positive")),
            classes=len(m.get("classes") or []) or "C",
            target=escape(_target(run)),
        )
        parts.append(
            f"<p><b>How well.</b> {metric_name(headline)} on the test split: "
            f"<b>{_ci(test, run.unit if headline in ('mae', 'rmse') else '')}</b> (value and "
            f"95% interval){': ' + meaning if meaning else ''}.</p>"
        )
    verdicts = verdicts_of(m, headline, test)
    if verdicts:
        parts.append(f"<p><b>Against simple baselines.</b> {_against(run, headline, verdicts)}</p>")
        parts.append(_so_what(verdicts))
    if run.stopping:
        parts.append(f"<p><b>Training.</b> {escape(_sentence(run.stopping['message']))}</p>")
    return '<div class="summary">' + "\n".join(parts) + "</div>"


def _target(run: _Run) -> str:
    target = (run.settings.get("data") or {}).get("target")
    return ", ".join(map(str, target)) if isinstance(target, list) else str(target or "the target")


def _what(run: _Run) -> str:
    task, m = tasks.get(run.task), run.metrics
    target = escape(_target(run))
    kind = escape(str((run.dataset or {}).get("kind", "tabular")))
    classes = [escape(str(c)) for c in m.get("classes") or []]
    if task.reconstructs:
        return (
            f"no label: an autoencoder learned to reconstruct the {kind} data; its "
            "reconstruction error is an anomaly score."
        )
    if task.chooses_threshold:
        positive = escape(str(m.get("positive_class")))
        other = next((c for c in classes if c != positive), "the other class")
        return (
            f"whether <b>{target}</b> is <b>{positive}</b> (rather than {other}), from {kind} data."
        )
    if task.has_classes:
        shown = ", ".join(classes[:8]) + (
            f" and {len(classes) - 8} more" if len(classes) > 8 else ""
        )
        return (
            f"which of {len(classes)} classes of <b>{target}</b> ({shown}) a sample belongs "
            f"to, from {kind} data."
        )
    unit = escape(run.unit.strip())
    return f"the value of <b>{target}</b>{f' (in {unit})' if unit else ''}, from {kind} data."


def _whom(run: _Run) -> str:
    n = run.metrics.get("n") or {}
    test, train = n.get("test", "?"), n.get("train", "?")
    group = (run.settings.get("data") or {}).get("group")
    groups = _groups(run) if group else None
    who = f"{test} samples" + (f" from {groups} {escape(str(group))} group(s)" if groups else "")
    return (
        f"{who}, held out before training and scored once, after the model and its decision "
        f"rule were fixed on {n.get('val', '?')} validation samples; the model learned from "
        f"{train} training samples."
    )


def _groups(run: _Run) -> int | None:
    import csv

    path = run.dir / "predictions" / "test.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        groups = {row.get("group") for row in csv.DictReader(f)}
    return len(groups - {None, ""}) or None


def _against(run: _Run, headline: str, verdicts: dict[str, str]) -> str:
    baselines = run.metrics.get("baselines") or {}
    said = {
        BETTER: "the model is better than the {name} baseline ({b})",
        TIE: "a tie with the {name} baseline ({b}): no difference the test set can detect",
        WORSE: "the model is worse than the {name} baseline ({b})",
    }
    items = [
        said[v].format(name=f"<b>{escape(name)}</b>", b=_ci(baselines[name].get(headline)))
        for name, v in verdicts.items()
    ]
    text = "; ".join(items) + "."
    return text[0].upper() + text[1:]


def _so_what(verdicts: dict[str, str]) -> str:
    found = set(verdicts.values())
    if WORSE in found:
        return (
            '<div class="flag bad"><b>What this means:</b> a simpler model does better on this '
            "test set. Do not use this model as it is: use the simpler one, or revisit the "
            "data and the model.</div>"
        )
    if TIE in found:
        return (
            '<div class="flag warn"><b>What this means:</b> on this test set the model cannot be '
            "told apart from a simpler one. Prefer the simpler model unless there is another "
            "reason; more test data would narrow the intervals.</div>"
        )
    return (
        '<div class="flag good"><b>What this means:</b> the model does better than the simple '
        "baselines, by more than the uncertainty shown. Whether that is good enough for a "
        "clinical use is a judgement the numbers above inform, not make.</div>"
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else text


def training(run: _Run) -> str:
    """Why training stopped and which epoch was kept."""
    stop = run.stopping
    if not stop:
        return "<p>Why training stopped was not recorded (a run of an earlier dltrain).</p>"
    css = "warn" if stop.get("still_improving") else "good"
    rows = [
        ("epochs run", f"{stop.get('epochs')} of at most {stop.get('epoch_limit')}"),
        (
            "epoch kept",
            f"{stop.get('best_epoch')} (best {escape(str(stop.get('monitor')))}: "
            f"{_num(stop.get('best_value'), 4)})",
        ),
        (
            "early stopping",
            "off"
            if stop.get("patience") is None
            else f"after {stop['patience']} epochs without improvement",
        ),
    ]
    table = "".join(f'<tr><th scope="row">{k}</th><td class="text">{v}</td></tr>' for k, v in rows)
    return (
        f'<div class="flag {css}">{escape(_sentence(stop["message"]))}</div>'
        f"<table><tbody>{table}</tbody></table>"
    )
