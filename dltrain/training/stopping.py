"""Why training stopped, and which epoch was kept: one record, said the same way everywhere.

The console, status.json, metrics.json (`stopping`) and the report all show
`describe(...)["message"]`, e.g.

    stopped early at epoch 28 (no improvement in val_loss for 10 epochs); kept epoch 18
    reached the epoch limit (60) while still improving: kept epoch 60, the last; raise
    train.epochs
"""

from __future__ import annotations

from typing import Any

EARLY = "early_stopping"
LIMIT = "epoch_limit"


def describe(state: Any, config: Any, monitor: str) -> dict:
    """The stopping record of a finished loop.

    Args:
        state: the loop's final `LoopState` (epoch = epochs run, best_epoch 0-based,
            wait = epochs since the best, stopped_early).
        config: the experiment (`train.epochs`, `train.early_stopping`).
        monitor: the validation value that picks the kept epoch, e.g. "val_loss".

    Returns:
        {"reason": "early_stopping" | "epoch_limit", "epochs", "epoch_limit",
        "best_epoch" (1-based), "best_value", "monitor", "patience", "since_best",
        "still_improving", "message"}.
    """
    es = config.train.early_stopping
    patience = es.patience if es is not None else None
    ran = int(state.epoch)
    kept = None if state.best_epoch is None else int(state.best_epoch) + 1
    record = {
        "reason": EARLY if state.stopped_early else LIMIT,
        "epochs": ran,
        "epoch_limit": int(config.train.epochs),
        "best_epoch": kept,
        "best_value": None if state.best is None else float(state.best),
        "monitor": monitor,
        "patience": patience,
        "since_best": int(state.wait),
        "still_improving": bool(not state.stopped_early and kept is not None and kept == ran),
    }
    record["message"] = message(record)
    return record


def message(record: dict) -> str:
    """The one sentence that says why training stopped and which epoch was kept."""
    ran, kept, monitor = record["epochs"], record["best_epoch"], record["monitor"]
    if record["reason"] == EARLY:
        return (
            f"stopped early at epoch {ran} (no improvement in {monitor} for "
            f"{record['patience']} epochs); kept epoch {kept}"
        )
    if record["still_improving"]:
        return (
            f"reached the epoch limit ({ran}) while still improving: kept epoch {kept}, the "
            f"last, as {monitor} was still getting better; raise train.epochs"
        )
    since = record["since_best"]
    if record["patience"] is None:
        return f"ran all {ran} epochs (no early stopping); kept epoch {kept}, the best {monitor}"
    return (
        f"reached the epoch limit ({ran}); kept epoch {kept}, the best {monitor} "
        f"({since} epoch(s) without improvement since, fewer than the patience of "
        f"{record['patience']})"
    )
