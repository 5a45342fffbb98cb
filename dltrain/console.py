"""The one place that prints: messages, error panels, tables, JSON and progress bars.

Library code returns values or raises; only this module (called from the CLI, its
views and the training display, `dltrain.display`) writes to the terminal.

Two kinds of output: a terminal gets colour and live progress; anything else (a pipe,
a log file, CI) gets plain lines, written and flushed one at a time, with no control
characters and never cut (`tail -f` follows a run). Tables never cut a number: one too
wide for the terminal is printed stacked, one block of "column: value" lines per row.
"""

from __future__ import annotations

import contextlib
import json as _json
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


def is_live(stream: Console | None = None) -> bool:
    """Whether `stream` (standard output by default) is a terminal that shows live progress."""
    stream = out if stream is None else stream
    return stream.is_terminal and not stream.is_dumb_terminal


def info(message: str) -> None:
    """Prints an informational line to standard output."""
    out.print(message, soft_wrap=True)


def line(text: str, *, stderr: bool = False, markup: bool = False) -> None:
    """Prints one line as it is (never wrapped or cut in a pipe), flushed at once."""
    stream = err if stderr else out
    stream.print(text, soft_wrap=not is_live(stream), markup=markup, highlight=False)
    stream.file.flush()


def text(value: str) -> None:
    """Prints text exactly as it is (a config, a file): no markup, no highlighting."""
    out.file.write(value if value.endswith("\n") else value + "\n")
    out.file.flush()


def json(value: Any) -> None:
    """Prints `value` as JSON on standard output (for scripts: `--json`)."""
    out.file.write(_json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
    out.file.flush()


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
    """Prints a table; cells are converted with `str` (and escaped unless `markup`).

    A table too wide for the terminal (its narrowest rendering would cut a cell) is
    printed stacked instead: the first cell of each row, then "column: value" lines.
    """
    rows = [[str(cell) for cell in row] for row in rows]
    t = make_table(title, columns, rows, caption=caption, markup=markup)
    if _fits(t, out, rows):
        out.print(t)
        return
    stacked(title, columns, rows, caption=caption, markup=markup)


def _fits(table: Table, stream: Console, rows: list[list[str]]) -> bool:
    """Whether `table` prints at the stream's width without cutting a cell ("…")."""
    import io

    probe = Console(width=stream.width, file=io.StringIO(), color_system=None, highlight=False)
    probe.print(table)
    cut = probe.file.getvalue().count("…")
    return cut <= sum(cell.count("…") for row in rows for cell in row)


def stacked(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    markup: bool = False,
) -> None:
    """Prints a table as blocks, one per row: its first cell, then "  column: value"."""
    text = (lambda s: s) if markup else _escape
    if title:
        out.print(f"[bold]{text(title)}[/]", soft_wrap=True)
    width = max((len(c) for c in columns[1:]), default=0)
    for row in rows:
        out.print(f"[bold]{text(str(row[0]))}[/]", soft_wrap=True)
        for column, cell in zip(columns[1:], row[1:], strict=False):
            if str(cell):
                out.print(f"  {text(column):<{width}}  {text(str(cell))}", soft_wrap=True)
    if caption:
        out.print(f"[dim]{text(caption)}[/]", soft_wrap=True)


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


def progress(*, stderr: bool = False):
    """A Rich progress display for a terminal (a context manager; see `dltrain.display`):
    spinner, name, bar, done/total, elapsed time and time remaining, in 80 columns."""
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Column

    return Progress(
        SpinnerColumn(finished_text=" "),
        TextColumn("[bold]{task.description}", table_column=Column(width=12, no_wrap=True)),
        BarColumn(bar_width=24),
        TextColumn("{task.fields[count]}", table_column=Column(width=9, justify="right")),
        TimeElapsedColumn(),
        TextColumn("{task.fields[eta]}", table_column=Column(width=12, no_wrap=True)),
        console=err if stderr else out,
        transient=True,
        refresh_per_second=8,
    )


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
