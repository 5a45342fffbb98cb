"""The run report: one self-contained HTML file, `runs/<id>/report.html`.

The page is built from the run folder alone (plus the cached dataset manifest
when it is still there, for missing-value counts): no template engine, no
JavaScript, no external URL; CSS is inline and plots are embedded as base64
`data:` URIs, so the file can be mailed or archived as it is. Every text that
comes from the user's data or config is escaped with `html.escape`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from dltrain import __version__, records, runs, tasks
from dltrain.errors import RunError
from dltrain.evaluation.plots import make_plots
from dltrain.evaluation.report.checklist import checklist_section
from dltrain.evaluation.report.external import external_section
from dltrain.evaluation.report.gallery import gallery
from dltrain.evaluation.report.page import CSS
from dltrain.evaluation.report.run import _optional_json, _Run
from dltrain.evaluation.report.sections import (
    _config,
    _confusion,
    _data,
    _environment,
    _header,
    _metrics,
    _operating_point,
    _per_class,
    _plots,
    _sanity,
    _stages,
)
from dltrain.evaluation.report.summary import summary, training
from dltrain.evaluation.report.verdicts import baselines_section
from dltrain.training.events import SILENT, Listener


@dataclass(frozen=True)
class Section:
    """One section of the page: its anchor, its title, its HTML from the run's files (and
    the plots drawn), and whether it applies to the run (a section whose HTML is empty is
    left out too)."""

    key: str
    title: str
    build: Callable[[_Run, list[Path]], str]
    applies: Callable[[_Run], bool] = lambda run: True


def _classes(run: _Run) -> bool:
    return tasks.get(run.task).exclusive


SECTIONS: list[Section] = [
    Section("summary", "Summary", lambda run, plots: summary(run)),
    Section("data", "Data, splits and leakage audit", lambda run, plots: _data(run)),
    Section("training", "Training: why it stopped", lambda run, plots: training(run)),
    Section("stages", "Training stages", lambda run, plots: _stages(run.dir)),
    Section("sanity", "Sanity checks", lambda run, plots: _sanity(run)),
    Section("metrics", "Metrics", lambda run, plots: _metrics(run)),
    Section("external", "External test set", lambda run, plots: external_section(run)),
    Section("baselines", "Against the baselines", lambda run, plots: baselines_section(run)),
    Section("operating-point", "Operating point", lambda run, plots: _operating_point(run)),
    Section("per-class", "Per-class metrics", lambda run, plots: _per_class(run), _classes),
    Section("confusion", "Confusion matrix", lambda run, plots: _confusion(run), _classes),
    Section("wrong", "Most confidently wrong test samples", lambda run, plots: gallery(run)),
    Section("plots", "Plots", lambda run, plots: _plots(plots)),
    Section("config", "Configuration", lambda run, plots: _config(run)),
    Section("environment", "Environment", lambda run, plots: _environment(run)),
    Section("checklist", "Reporting checklist", lambda run, plots: checklist_section(run)),
]
"""The page, in order. A new section is one more `Section` here (e.g. inserted after
"metrics"), built by a function of the run's files in its own module."""


def report_run(run_id: str, listener: Listener = SILENT) -> Path:
    """Rebuilds the plots and report of a completed run, holding the run's lock.

    A run stopped while it wrote its report (status.json's phase "report": its results
    are all written) is finished here: the report is written and the run marked completed.

    Args:
        run_id: a run id, e.g. ``breast-cancer-3``.
        listener: told of each plot drawn. Defaults to `SILENT`.

    Returns:
        The path of report.html.
    """
    run_dir = runs.resolve_run(run_id)
    with runs.RunLock(run_dir):
        status = _optional_json(run_dir / "status.json") or {}
        state = status.get("status", "unknown")
        finishing = state != "completed" and status.get("phase") == "report"
        if state != "completed" and not finishing:
            raise RunError(
                f"run {run_id} is {state}, not completed; a report needs a run that finished "
                f"training and testing. Continue it with `dltrain resume {run_id}` (it writes "
                "the report when it completes), or train it again"
            )
        if not (run_dir / "metrics.json").is_file():
            raise RunError(
                f"run {run_id} has no metrics.json ({run_dir / 'metrics.json'}), so there is "
                "nothing to report; the run folder is incomplete. Train it again (dltrain "
                "train CONFIG) or restore the file"
            )
        runs.clean_temporary(run_dir)
        path = write_report(run_dir, listener=listener)
        if finishing:
            records.set_status(run_dir, "completed", phase="done")
        return path


def write_report(
    run_dir: Path, plots: list[Path] | None = None, listener: Listener = SILENT
) -> Path:
    """Writes `run_dir/report.html`: one self-contained page describing the run.

    It draws the plots first (`make_plots`) unless they are given. It does not check
    the run's status, so training can call it before marking the run completed.

    Args:
        run_dir: a run folder holding at least metrics.json.
        plots: PNG files to embed. Defaults to None: draw them with `make_plots`.
        listener: told of each plot as it is drawn (`progress`). Defaults to `SILENT`.

    Returns:
        The path of report.html.

    Example:
        >>> write_report(Path("runs/breast-cancer-1"))  # doctest: +SKIP
        PosixPath('runs/breast-cancer-1/report.html')
    """
    run_dir = Path(run_dir)
    if not (run_dir / "metrics.json").is_file():
        raise RunError(
            f"{run_dir / 'metrics.json'} is missing, so there is nothing to report; "
            "the run did not finish testing"
        )
    run = _Run(run_dir)
    if plots is None:
        plots = make_plots(run_dir, lambda done, name: listener.progress(done, 0, name))
    sections = _sections(run, plots)
    nav = " ".join(f'<a href="#{key}">{escape(title)}</a>' for key, title, _ in sections)
    body = "\n".join(
        f'<section id="{key}">\n<h2>{escape(title)}</h2>\n{content}\n</section>'
        for key, title, content in sections
    )
    built = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>dltrain report: {escape(run.id)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        f"{_header(run)}\n<nav>{nav}</nav>\n{body}\n"
        f"<footer>Built {escape(built)} by dltrain {escape(__version__)} from the files in "
        f"<code>{escape(str(run_dir))}</code>.</footer>\n</body>\n</html>\n"
    )
    path = run_dir / "report.html"
    runs.atomic_write_text(path, page)
    return path


def _sections(run: _Run, plots: list[Path]) -> list[tuple[str, str, str]]:
    """(anchor, title, HTML) of each section that applies to the run, in page order."""
    return [
        (section.key, section.title, html)
        for section in SECTIONS
        if section.applies(run) and (html := section.build(run, plots))
    ]
