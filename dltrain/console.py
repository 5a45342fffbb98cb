"""The one place that prints: messages, error panels, tables and progress bars.

Library code returns values or raises; only this module (called from the CLI
and from the training callback) writes to the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from dltrain.errors import DltrainError

# Rich falls back to 80 columns when output is not a terminal (a pipe, a log file,
# CI); metric tables with confidence intervals need more to stay readable there.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120
out = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)


def info(message: str) -> None:
    """Prints an informational line to standard output."""
    out.print(message, soft_wrap=True)


def warn(message: str) -> None:
    """Prints a warning to standard error."""
    err.print(f"[bold yellow]Warning:[/] {message}", soft_wrap=True, markup=True)


def error(exc: DltrainError) -> None:
    """Prints a user error: title, location, message and one line per detail."""
    where = f" [bold]{_escape(exc.where)}[/]:" if exc.where else ""
    err.print(f"[bold red]{exc.title}:[/]{where} {_escape(exc.message)}", soft_wrap=True)
    for line in exc.details:
        err.print(f"  {_escape(line)}", soft_wrap=True)


def bug(exc: BaseException, trace: str) -> None:
    """Prints an unexpected failure (a bug in dltrain) with its traceback."""
    err.print(trace, soft_wrap=True, markup=False, style="dim")
    err.print(
        f"[bold red]Internal error:[/] {_escape(type(exc).__name__)}: {_escape(str(exc))}\n"
        "This is a bug in dltrain, not in your data or config; please report it "
        "with the traceback above.",
        soft_wrap=True,
    )


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    markup: bool = False,
) -> None:
    """Prints a table; cells are converted with `str` (and escaped unless `markup`)."""
    out.print(make_table(title, columns, rows, caption=caption, markup=markup))


def make_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    markup: bool = False,
) -> Table:
    """The Rich table that `table` prints (for a live display)."""
    rows = [[str(cell) for cell in row] for row in rows]
    t = Table(title=title, caption=caption, title_justify="left")
    for i, column in enumerate(columns):
        numeric = all(_numberlike(row[i]) for row in rows if i < len(row))
        t.add_column(column, justify="right" if numeric and i else "left", no_wrap=i == 0)
    for row in rows:
        t.add_row(*(cell if markup else _escape(cell) for cell in row))
    return t


@contextlib.contextmanager
def live(renderable):
    """A live display of `renderable` (e.g. the table of a study's trials); yields the Rich
    `Live` whose `update(new)` redraws it. Training progress bars nest inside it."""
    from rich.live import Live

    try:
        with Live(renderable, console=out, refresh_per_second=4, transient=False) as display:
            yield display
    finally:
        if not out.is_terminal:  # a log or pipe gets the last table, then a line break
            out.line()


def progress():
    """Returns a Rich progress display for training epochs (a context manager)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[metrics]}"),
        console=out,
        transient=False,
    )


class Listener:
    """Renders a run's events (`dltrain.training.events.Listener`) on the terminal: warnings
    and messages as lines, the epochs as a Rich progress bar with the last epoch's metrics."""

    def __init__(self):
        self._progress = None
        self._task = None

    def phase(self, name: str, detail: str = "") -> None:
        pass

    def epochs(self, run: str, total: int, done: int) -> None:
        self._progress = progress()
        self._progress.start()
        self._task = self._progress.add_task(run, total=total, completed=done, metrics="")

    def steps(self, epoch: int, done: int, total: int) -> None:
        pass

    def epoch(self, epoch: int, row: dict, seconds: float) -> None:
        shown = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch")
        if self._progress is not None:
            self._progress.update(self._task, completed=epoch + 1, metrics=shown)

    def trained(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def info(self, message: str) -> None:
        info(message)

    def warn(self, message: str) -> None:
        warn(message)


def _numberlike(text: str) -> bool:
    """Numbers, and numbers with a confidence interval, are right-aligned."""
    head = text.split(" ", 1)[0].replace(",", "").replace("[", "").replace("]", "")
    head = head.removeprefix("<").removeprefix(">")
    try:
        float(head or "0")
    except ValueError:
        return head in ("n/a", "")
    return True


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
