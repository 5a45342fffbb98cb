"""The report's section on the external test set (`data.external`), when the run has one."""

from __future__ import annotations

from html import escape

from dltrain.evaluation.report.page import _ci, _table


def external_section(run) -> str | None:
    """The external test set's metrics beside the internal test split's, or None."""
    m = run.metrics
    ext = m.get("external")
    if not ext:
        return None
    metrics, internal = ext.get("metrics") or {}, m.get("test") or {}
    n = m.get("n") or {}
    rows = [[escape(name), _ci(internal.get(name)), _ci(value)] for name, value in metrics.items()]
    header = [
        "metric",
        f"internal test (n={escape(str(n.get('test', '?')))})",
        f"external test (n={escape(str(n.get('external', '?')))})",
    ]
    notes = [
        "Scored once, after the internal test split, with the model and threshold frozen on "
        "the internal data; never used for fitting or selection."
    ]
    if ext.get("identical_to_internal"):
        notes.append(
            f"{ext['identical_to_internal']} external sample(s) are identical to internal ones."
        )
    if ext.get("groups_also_internal"):
        notes.append(
            f"{ext['groups_also_internal']} external group(s) also appear in the internal data."
        )
    for warning in ext.get("warnings") or []:
        notes.append(warning)
    source = (
        f"<p>Source: <code>{escape(str(ext.get('source')))}</code></p>" if ext.get("source") else ""
    )
    return source + _table(header, rows, caption=" ".join(escape(t) for t in notes))
