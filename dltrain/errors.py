"""The errors dltrain raises for expected failures, each with its exit code.

A `DltrainError` is a user-facing failure: the CLI prints its message (what is
wrong, where, how to fix it) and exits with `exit_code`, never a traceback.
Each subclass also inherits the matching built-in so that library callers can
catch `ValueError` or `OSError` as they would anyway.
"""

from __future__ import annotations


class DltrainError(Exception):
    """Base class of every expected dltrain failure.

    Args:
        message: what is wrong and how to fix it, in one short paragraph.
        where: the location, e.g. ``configs/x.yaml:12`` or ``data/x.csv:40``.
            Defaults to None.
        details: further lines (one per problem) shown under the message.
            Defaults to an empty list.
    """

    exit_code = 1
    title = "Error"

    def __init__(self, message: str, *, where: str | None = None, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.details = list(details or [])

    def __str__(self) -> str:
        head = f"{self.where}: {self.message}" if self.where else self.message
        return "\n".join([head, *(f"  {line}" for line in self.details)])


class UsageError(DltrainError, ValueError):
    """A bad command-line argument or run id (exit 2)."""

    exit_code = 2
    title = "Usage error"


class ConfigError(DltrainError, ValueError):
    """A config file or `--set` override that does not validate (exit 2)."""

    exit_code = 2
    title = "Config error"


class DataError(DltrainError, ValueError):
    """Data that cannot be read, validated or split (exit 3)."""

    exit_code = 3
    title = "Data error"


class RunError(DltrainError, OSError):
    """A run directory, checkpoint or file-system failure (exit 4)."""

    exit_code = 4
    title = "Run error"


class DivergedError(DltrainError, ArithmeticError):
    """Training produced a NaN or infinite loss (exit 5)."""

    exit_code = 5
    title = "Training diverged"


class SanityError(DivergedError):
    """A sanity check failed: training cannot make progress as set up (exit 5)."""

    title = "Sanity check failed"


class InterruptedRun(DltrainError):
    """The run was stopped by Ctrl-C (exit 130) or SIGTERM (exit 143)."""

    exit_code = 130
    title = "Interrupted"

    def __init__(self, message: str, *, signal_exit_code: int = 130, **kwargs):
        super().__init__(message, **kwargs)
        self.exit_code = signal_exit_code
