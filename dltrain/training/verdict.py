"""One verdict of the sanity suite (`dltrain.training.sanity`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """A check's verdict: PASS, WARN, FAIL, or INFO (a reference value, or inconclusive).

    `steps` is how many training steps the check used (None: it trains nothing);
    `cached` says the verdict was read from the verdict cache, not measured by this run.
    """

    name: str
    verdict: str  # PASS | WARN | FAIL | INFO
    value: float | None
    expected: float | str | None
    detail: str
    steps: int | None = None
    cached: bool = False


def rounded(v) -> float | None:
    import math

    return None if v is None or not math.isfinite(v) else round(float(v), 6)
