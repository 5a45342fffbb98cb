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

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1b1f24; background: #fff; margin: 0 auto; max-width: 1180px; padding: 0 24px 48px; }
h1 { font-size: 1.6em; margin: 28px 0 4px; }
h2 { font-size: 1.25em; margin: 36px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid #d0d7de; }
h3 { font-size: 1.05em; margin: 18px 0 6px; }
nav { margin: 12px 0; font-size: 0.92em; }
nav a { margin-right: 14px; color: #0b5cad; text-decoration: none; }
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
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 10px 12px; overflow-x: auto; }
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
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 18px; }
figure { margin: 0; border: 1px solid #d0d7de; padding: 8px; }
figure.wide { grid-column: 1 / -1; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: #57606a; font-size: 0.88em; margin-top: 6px; }
footer { margin-top: 40px; color: #57606a; font-size: 0.85em; }
"""


# --- formatting ----------------------------------------------------------------------------


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _ci(m: dict | None) -> str:
    if not m or m.get("value") is None:
        return "n/a"
    if m.get("low") is None or m.get("high") is None:
        return _num(m["value"])
    return f"{_num(m['value'])} <span class=muted>({_num(m['low'])}–{_num(m['high'])})</span>"


def _table(
    header: list[str], rows: list[list[str]], caption: str | None = None, row_class=None
) -> str:
    """An HTML table; header and cells must already be escaped HTML."""
    head = "".join(f"<th>{h}</th>" for h in header)
    lines = []
    for i, row in enumerate(rows):
        cls = row_class(i) if row_class else None
        attr = f' class="{cls}"' if cls else ""
        lines.append(f"<tr{attr}>" + "".join(_cell(c) for c in row) + "</tr>")
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _cell(cell: str | tuple[str, str]) -> str:
    if isinstance(cell, tuple):  # (html, css class)
        return f'<td class="{cell[1]}">{cell[0]}</td>'
    return f"<td>{cell}</td>"


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
