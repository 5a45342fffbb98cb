"""The report's reporting checklist: the items dltrain can fill from the run.

TRIPOD+AI (Collins et al., BMJ 2024;385:e078378) for tables, signals, text and volumes;
CLAIM (Mongan, Moy & Kahn, Radiology: Artificial Intelligence 2020;2:e200029; item numbers
of that checklist) for images. Each item is either **filled** with what the run recorded
(its data source, splits, preprocessing, model, metrics with intervals, calibration and
baselines) or marked **to be completed by the author** with what dltrain knows as a start:
what only the author knows (the clinical setting, eligibility criteria, dates, the sample
size rationale) is never invented. Built from the run folder alone (`_Run`).
"""

from __future__ import annotations

from html import escape

import yaml

from dltrain.evaluation.report.page import NAMES

FILLED = "filled"
TODO = "to be completed by the author"


class _Facts:
    """What the run recorded, as plain values (missing files give empty values)."""

    def __init__(self, run):
        self.metrics: dict = run.metrics or {}
        self.dataset: dict = run.dataset or {}
        self.environment: dict = run.environment or {}
        try:
            self.config: dict = yaml.safe_load(run.config or "") or {}
        except yaml.YAMLError:
            self.config = {}
        self.data: dict = self.config.get("data") or {}
        self.split: dict = self.dataset.get("split") or {}
        self.task: str = run.task

    def sizes(self) -> str:
        parts = []
        for name in ("train", "val", "test"):
            info = self.split.get(name) or {}
            rows = info.get("rows", len((self.dataset.get("rows") or {}).get(name, [])))
            counts = info.get("class_counts") or {}
            shown = ", ".join(f"{k} {v}" for k, v in counts.items())
            parts.append(f"{name} {rows}" + (f" ({shown})" if shown else ""))
        return "; ".join(parts)


def _source(f: _Facts):
    source = f.dataset.get("source") or {}
    if not source:
        return TODO, "dataset.json not recorded"
    text = (
        f"{source.get('path')} ({source.get('rows', '?')} samples read; SHA-256 "
        f"{str(source.get('sha256', ''))[:16]}…); describe the study design and where the "
        "data come from"
    )
    return TODO if not source.get("path") else FILLED, text


def _dates(f: _Facts):
    return TODO, "dltrain records no accrual or follow-up dates"


def _eligibility(f: _Facts):
    rows = (f.dataset.get("source") or {}).get("rows")
    return TODO, (
        f"dltrain used every sample of the source ({rows}): none was excluded; a sample with "
        "a missing or unreadable target is refused with an error, never dropped. State the "
        "inclusion and exclusion criteria that produced the file"
    )


def _preparation(f: _Facts):
    kind, d = f.dataset.get("kind") or f.data.get("kind"), f.data
    steps = {
        "tabular": f"scaling {d.get('scale', 'standard')}, categories one-hot encoded",
        "images": f"resized to {d.get('size')}, colour {d.get('color', 'auto')}, per-channel "
        "normalisation",
        "signals": "length fitted to the training length, per-channel normalisation",
        "text": f"vocabulary of at most {d.get('max_tokens')} words, token ids cut or padded "
        f"to {d.get('max_length')}",
        "volumes": "per-channel normalisation",
    }.get(kind, "not recorded")
    augment = d.get("augment") or []
    more = f"; training-only augmentation {augment}" if augment else ""
    return FILLED, f"{steps}; every statistic fitted on the training split only{more}"


def _missing(f: _Facts):
    kind = f.dataset.get("kind") or f.data.get("kind")
    if kind == "tabular":
        m = f.data.get("missing") or {}
        return FILLED, (
            f"numeric values filled with the training {m.get('numeric', 'median')}"
            + (" plus a 0/1 indicator per column" if m.get("indicator", True) else "")
            + "; a missing category is its own category; a missing target is an error"
        )
    return (
        FILLED,
        "an unreadable or missing file is an error listed before training; nothing is imputed",
    )


def _splitting(f: _Facts):
    s = f.data.get("split") or {}
    group = f.data.get("group")
    unit = f"whole groups of '{group}' (no group in two splits)" if group else "single samples"
    fractions = ", ".join(f"{k} {s[k]}" for k in ("val", "test") if k in s)
    return FILLED, (
        f"{f.split.get('method', s.get('method', '?'))} split ({fractions}; seed "
        f"{f.split.get('seed', '?')}); unit: {unit}; train for fitting, validation for early "
        "stopping, tuning, the threshold and any recalibration, test scored once; leakage "
        "audit by content hash"
    )


def _model(f: _Facts):
    model, train = f.config.get("model") or {}, f.config.get("train") or {}
    stop = train.get("early_stopping") or {}
    return FILLED, (
        f"{model.get('architecture', '?')} ({_settings(model)}); {train.get('epochs', '?')} "
        f"epochs at most, early stopping on {stop.get('monitor', 'none')}, the best "
        f"validation epoch kept; optimiser {(train.get('optimizer') or {}).get('name', '?')}"
    )


def _settings(section: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in section.items() if k != "architecture") or "defaults"


def _measures(f: _Facts):
    m = f.metrics
    names = ", ".join(NAMES.get(k, k) for k in (m.get("test") or {}))  # plain names
    return FILLED, (
        f"{names}; {round(float(m.get('confidence') or 0.95) * 100)}% percentile bootstrap "
        f"intervals ({m.get('bootstrap')} resamples"
        + (", by group" if f.data.get("group") else "")
        + "); the model against each baseline by a paired bootstrap"
    )


def _updating(f: _Facts):
    r = f.metrics.get("recalibration")
    if r:
        return FILLED, f"{r.get('method')} scaling fitted on the validation split ({r})"
    return FILLED, "none (evaluate.recalibrate: none)"


def _imbalance(f: _Facts):
    weight = (f.config.get("train") or {}).get("class_weight", "none")
    return FILLED, f"class weights: {weight}; class counts per split are listed under Data"


def _output(f: _Facts):
    m, op = f.metrics, f.metrics.get("operating_point") or {}
    if m.get("threshold") is None:
        return FILLED, f"{f.task} output, no decision threshold"
    return FILLED, (
        f"P({m.get('positive_class')}); decision at threshold {m['threshold']:.4g}, rule "
        f"{op.get('rule', '?')}, chosen on {op.get('chosen_on', '?')} and frozen for test"
    )


def _code(f: _Facts):
    e = f.environment
    return FILLED, (
        f"dltrain {e.get('dltrain', '?')}, git commit {e.get('git_commit') or 'not recorded'}; "
        "the run folder holds the config, model and fitted preprocessing"
    )


def _flow(f: _Facts):
    return FILLED, f.sizes()


def _specification(f: _Facts):
    extra = ", calibration.json" if f.metrics.get("recalibration") else ""
    return FILLED, f"model.keras with preprocessing.json{extra} (dltrain export for other formats)"


def _performance(f: _Facts):
    from dltrain.evaluation.metrics import HEADLINE

    name = HEADLINE.get(f.task)
    test = (f.metrics.get("test") or {}).get(name) or {}
    if test.get("value") is None:
        return TODO, f"{name} was not recorded on test"
    return FILLED, f"test {name} {_ci(test)}; every metric on validation and test in Metrics"


def _calibration(f: _Facts):
    test = f.metrics.get("test") or {}
    names = [k for k in ("calibration_intercept", "calibration_slope", "ece") if k in test]
    if not names and f.task not in ("binary", "multiclass"):
        return TODO, f"dltrain reports no calibration for a {f.task} task"
    if not names:
        return TODO, "no calibration metric was recorded on test (a run of an earlier dltrain)"
    shown = "; ".join(f"{NAMES.get(k, k)} {_ci(test[k])}" for k in names)
    return FILLED, f"test {shown} (calibration-in-the-large, slope, ECE; the calibration plot)"


def _baselines(f: _Facts):
    from dltrain.evaluation.decision import describe

    decisions = f.metrics.get("baseline_decisions") or {}
    if not decisions:
        names = ", ".join(f.metrics.get("baselines") or {}) or "none"
        return TODO, f"baselines {names} scored, but not decided by a paired bootstrap"
    return FILLED, "; ".join(describe(n, d) for n, d in decisions.items())


def _ci(m: dict) -> str:
    if m.get("value") is None:
        return "n/a"
    if m.get("low") is None:
        return f"{m['value']:.3f}"
    return f"{m['value']:.3f} ({m['low']:.3f} to {m['high']:.3f})"


TRIPOD_AI = (
    ("5a", "Data source", _source),
    ("5b", "Data dates", _dates),
    ("6b", "Eligibility criteria", _eligibility),
    ("7", "Data preparation", _preparation),
    ("11", "Missing data", _missing),
    ("12a", "Data use and splitting (unit)", _splitting),
    ("12c", "Model type, building and internal validation", _model),
    ("12e", "Performance measures", _measures),
    ("12f", "Model updating (recalibration)", _updating),
    ("13", "Class imbalance", _imbalance),
    ("15", "Model output and threshold", _output),
    ("18f", "Code availability", _code),
    ("20a/21", "Participants and outcome events per split", _flow),
    ("22", "Full model specification", _specification),
    ("23a", "Model performance with confidence intervals", _performance),
    ("23a", "Calibration", _calibration),
    ("12e/23a", "Comparison with simple baselines", _baselines),
)
CLAIM = (
    ("7", "Data sources", _source),
    ("8", "Eligibility criteria (and dates)", _eligibility),
    ("9", "Data preprocessing steps", _preparation),
    ("13", "Missing data", _missing),
    ("20", "Assignment to partitions and proportions", _splitting),
    ("21", "Level at which partitions are disjoint", _splitting),
    ("22", "Model description", _model),
    ("25", "Training approach", _model),
    ("28", "Metrics of model performance", _measures),
    ("29", "Statistical measures of uncertainty and significance", _baselines),
    ("33", "Flow of cases through the partitions", _flow),
    ("35", "Performance on all partitions; calibration", _calibration),
    ("36", "Estimates of diagnostic accuracy with precision", _performance),
    ("40-42", "Code and model availability", _code),
)


def checklist_section(run) -> str:
    """The checklist of the run's kind (CLAIM for images, else TRIPOD+AI) as HTML."""
    facts = _Facts(run)
    images = (facts.dataset.get("kind") or facts.data.get("kind")) == "images"
    name, items = ("CLAIM (2020)", CLAIM) if images else ("TRIPOD+AI (2024)", TRIPOD_AI)
    rows, todo = [], 0
    for number, topic, fill in items:
        status, text = fill(facts)
        todo += status == TODO
        look = "good" if status == FILLED else "warn"
        rows.append(
            f'<tr><td>{escape(number)}</td><td class="text">{escape(topic)}</td>'
            f'<td class="text"><span class="flag {look}" style="padding:1px 6px;margin:0">'
            f'{escape(status)}</span></td><td class="text">{escape(text)}</td></tr>'
        )
    head = "<tr><th>item</th><th>topic</th><th>status</th><th>from this run</th></tr>"
    intro = (
        f"<p>The {escape(name)} items dltrain can fill from this run: {len(items) - todo} "
        f"filled, {todo} to be completed by the author. The other items of the checklist "
        "(title, abstract, setting, outcome definition, ethics, funding, discussion) are the "
        "author's.</p>"
    )
    return f"{intro}<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
