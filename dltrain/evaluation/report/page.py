"""The report's page: its style sheet and the small HTML builders every section uses."""

from __future__ import annotations

import math
from html import escape
from typing import Any

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}
CAPTIONS = {
    "learning_curves": "Loss and metrics per epoch on the training and validation splits; "
    "the dotted line marks the epoch that was kept (best on the monitor).",
    "confusion_test": "Test confusion matrix: rows are the true class, columns the predicted "
    "one; percentages are of the row.",
    "roc_val": "ROC on validation; the dot is the operating point.",
    "roc_test": "ROC on test; the dot is the operating point, frozen before test was scored.",
    "pr_val": "Precision-recall on validation; dashed lines are the prevalence (no skill).",
    "pr_test": "Precision-recall on test; dashed lines are the prevalence (no skill).",
    "calibration_test": "Reliability diagram on test: a calibrated model follows the diagonal. "
    "Below it, how the predicted probabilities are spread.",
    "per_class_test": "One-vs-rest metrics of each class on test.",
    "predicted_vs_true_test": "Test predictions against the true values; perfect predictions "
    "lie on the dashed line.",
    "bland_altman_test": "Bland-Altman on test: difference against mean, with the bias and the "
    "95% limits of agreement.",
}
WIDE = {"learning_curves"}
NAMES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC (average precision)",
    "f1": "F1 score",
    "sensitivity": "sensitivity (recall)",
    "specificity": "specificity",
    "ppv": "positive predictive value (precision)",
    "npv": "negative predictive value",
    "brier": "Brier score (error of the probabilities)",
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "r2": "R² (share of the variance explained)",
    "bias": "mean difference, predicted − true",
    "loa_low": "lower limit of agreement (95%)",
    "loa_high": "upper limit of agreement (95%)",
    "mse": "mean squared reconstruction error",
    "anomaly_roc_auc": "anomaly ROC AUC",
}
"""Plain names of the metrics for a reader who is not a statistician."""
MEANINGS = {
    "roc_auc": "the chance that a randomly chosen {positive} case scores higher than a randomly "
    "chosen other one (0.5 is guessing, 1 is perfect)",
    "balanced_accuracy": "the mean share of each class recognised correctly (1/{classes} is "
    "guessing, 1 is perfect)",
    "r2": "the share of the variation in {target} the model explains (0 is no better than "
    "predicting the mean, 1 is perfect)",
    "mse": "how far the reconstruction is from the input, on average (lower is better)",
}
IN_UNITS = {"mae", "rmse", "bias", "loa_low", "loa_high"}  # in the target's unit
DEGENERATE = 1e-12  # an interval narrower than this did not vary over the resamples

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1b1f24; background: #fff; margin: 0 auto; max-width: 1180px; padding: 0 24px 48px;
       overflow-wrap: anywhere; }
h1 { font-size: 1.6em; margin: 28px 0 4px; }
h2 { font-size: 1.25em; margin: 36px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid #d0d7de; }
h3 { font-size: 1.05em; margin: 18px 0 6px; }
nav { margin: 12px 0; font-size: 0.92em; display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav a { color: #0b5cad; text-decoration: none; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; vertical-align: top; }
th { background: #f3f5f7; text-align: left; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; }
tr.headline td { font-weight: 600; background: #fff8e1; }
td.diag { font-weight: 700; background: #e8f1fb; }
caption { caption-side: bottom; text-align: left; color: #57606a; font-size: 0.9em;
          padding-top: 4px; }
code, pre { font: 0.88em/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 10px 12px;
      white-space: pre-wrap; overflow-wrap: anywhere; }
.meta { color: #57606a; margin: 2px 0; }
.muted { color: #57606a; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 700;
         font-size: 0.85em; color: #fff; background: #6e7781; }
.PASS, .completed { background: #1a7f37; }
.WARN, .running, .interrupted { background: #9a6700; }
.FAIL, .failed, .diverged { background: #cf222e; }
.flag { border-left: 5px solid; padding: 8px 12px; margin: 10px 0; }
.flag.bad { border-color: #cf222e; background: #ffebe9; }
.flag.warn { border-color: #9a6700; background: #fff8c5; }
.flag.good { border-color: #1a7f37; background: #dafbe1; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(480px, 100%), 1fr));
         gap: 18px; }
.summary { font-size: 1.05em; }
.summary p { margin: 6px 0; }
.degenerate { color: #9a6700; font-size: 0.9em; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(170px, 100%), 1fr));
           gap: 12px; }
.card { border: 1px solid #d0d7de; padding: 8px; font-size: 0.88em; }
.card img { display: block; width: 100%; height: auto; image-rendering: pixelated; }
.card blockquote { margin: 0 0 6px; padding: 4px 8px; background: #f6f8fa; }
figure { margin: 0; border: 1px solid #d0d7de; padding: 8px; }
figure.wide { grid-column: 1 / -1; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: #57606a; font-size: 0.88em; margin-top: 6px; }
footer { margin-top: 40px; color: #57606a; font-size: 0.85em; }
@media (max-width: 640px) {
  body { padding: 0 12px 32px; font-size: 14px; }
  table.stack, table.stack tbody, table.stack tr, table.stack td { display: block; width: auto; }
  table.stack thead { display: none; }
  table.stack tr { border: 1px solid #d0d7de; margin: 0 0 8px; }
  table.stack td { border: none; border-bottom: 1px solid #eaeef2; text-align: right; }
  table.stack td::before { content: attr(data-label); float: left; font-weight: 600;
                           padding-right: 8px; text-align: left; }
  table.stack td:first-child { text-align: left; background: #f3f5f7; font-weight: 600; }
  table.stack td:first-child::before { content: none; }
  table.stack caption { display: block; }
}
"""


# --- formatting ----------------------------------------------------------------------------


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def metric_name(name: str) -> str:
    return escape(NAMES.get(name, name.replace("_", " ")))


def degenerate(m: dict | None) -> bool:
    """An interval of zero width: every resample gave the same value (e.g. a constant
    baseline), so it says nothing about the uncertainty."""
    return bool(
        m
        and m.get("low") is not None
        and m.get("high") is not None
        and abs(m["high"] - m["low"]) < DEGENERATE
    )


def _ci(m: dict | None, unit: str = "") -> str:
    """ "0.912 (0.850–0.960)", with the unit; a zero-width interval is flagged."""
    if not m or m.get("value") is None:
        return "n/a"
    value = f"{_num(m['value'])}{escape(unit)}"
    if m.get("low") is None or m.get("high") is None:
        return value
    if degenerate(m):
        return f'{value} <span class="degenerate" title="{DEGENERATE_NOTE}">(no spread ‡)</span>'
    return f"{value} <span class=muted>({_num(m['low'])}–{_num(m['high'])})</span>"


DEGENERATE_NOTE = (
    "‡ a degenerate interval: every bootstrap resample gave the same value (e.g. a baseline "
    "that always predicts the same), so it says nothing about the uncertainty"
)


def _table(
    header: list[str], rows: list[list[str]], caption: str | None = None, row_class=None
) -> str:
    """An HTML table; header and cells must already be escaped HTML."""
    head = "".join(f"<th>{h}</th>" for h in header)
    labels = [_label(h) for h in header]
    lines = []
    for i, row in enumerate(rows):
        cls = row_class(i) if row_class else None
        attr = f' class="{cls}"' if cls else ""
        cells = "".join(_cell(c, labels[j] if j < len(labels) else "") for j, c in enumerate(row))
        lines.append(f"<tr{attr}>{cells}</tr>")
    cap = f"<caption>{caption}</caption>" if caption else ""
    return (
        f'<table class="stack">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


def _label(header_html: str) -> str:
    """A header as plain text for a `data-label` attribute (a stacked cell's label)."""
    import re
    from html import unescape

    return escape(unescape(re.sub(r"<[^>]+>", "", header_html)), quote=True)


def _cell(cell: str | tuple[str, str], label: str = "") -> str:
    data = f' data-label="{label}"' if label else ""
    if isinstance(cell, tuple):  # (html, css class)
        return f'<td class="{cell[1]}"{data}>{cell[0]}</td>'
    return f"<td{data}>{cell}</td>"


def _badge(text: str) -> str:
    cls = text if text.isidentifier() else "unknown"
    return f'<span class="badge {escape(cls)}">{escape(text)}</span>'


def _kv(items: list[tuple[str, str]]) -> str:
    """A two-column table of (escaped label, escaped value) pairs."""
    rows = "".join(f'<tr><th scope="row">{k}</th><td class="text">{v}</td></tr>' for k, v in items)
    return f"<table><tbody>{rows}</tbody></table>"


def _value(value: Any) -> str:
    """A number (4 decimals), a text, or a dash for null."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(str(value))
    return _num(value, 4)
