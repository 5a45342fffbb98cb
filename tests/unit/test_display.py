"""What a user sees while training: plain flushed lines in a pipe, a live area at 80 columns
that keeps the epoch, elapsed time and ETA, tables that never cut a number, and one
sentence for why training stopped."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import pytest
from rich.console import Console

from dltrain import console, display
from dltrain.training import stopping

ROW = {
    "epoch": 0,
    "loss": 0.6701,
    "auc": 0.5706,
    "accuracy": 0.607,
    "val_accuracy": 0.6628,
    "val_auc": 0.8215,
    "val_loss": 0.5765,
}
METRIC_ROWS = [
    ["accuracy", "0.942 (0.895–0.988)", "0.974 (0.939–1.000)", "0.632 (0.544–0.719)", "0.991"],
    ["balanced_accuracy", "0.935 (0.875–0.987)", "0.969 (0.930–1.000)", "0.500", "0.988"],
    ["roc_auc", "0.979 (0.943–1.000)", "0.996 (0.987–1.000)", "0.500 (0.500–0.500)", "0.996"],
]
COLUMNS = ["metric", "val", "test", "majority (test)", "logistic (test)"]
STAMP = re.compile(r"^\[\d+:\d\d\] ")


@pytest.fixture
def screen(monkeypatch):
    """Replaces the console's streams; `screen(tty, width)` returns the output buffer."""

    def make(tty: bool, width: int = 80) -> io.StringIO:
        buffer = io.StringIO()
        options = dict(file=buffer, width=width, force_terminal=tty, highlight=False)
        if not tty:
            options["color_system"] = None
        monkeypatch.setattr(console, "out", Console(**options))
        monkeypatch.setattr(console, "err", Console(**options))
        return buffer

    return make


def _train(shown, epochs=3, stop=None):
    shown.phase("preprocess", "reading, checking and splitting the data")
    shown.phase("sanity", "initial loss, overfitting one batch")
    shown.progress(1, 2, "initial_loss PASS")
    shown.progress(2, 2, "overfit_batch PASS")
    shown.phase("train", "up to 3 epochs")
    shown.epochs("demo-1", epochs, 0)
    for e in range(epochs):
        for step in (1, 2, 3):
            shown.steps(e, step, 3)
        shown.epoch(e, {**ROW, "epoch": e}, 0.25)
    shown.trained()
    shown.stopped(stop or {"message": "reached the epoch limit (3) while still improving"})
    shown.phase("test", "scoring validation and test (50 bootstrap resamples)")
    shown.phase("report", "plots and report.html")
    shown.progress(1, 0, "learning_curves")


def test_a_pipe_gets_one_plain_flushed_line_per_phase_and_per_epoch(screen):
    out = screen(tty=False, width=120)
    with display.TrainingDisplay() as shown:
        _train(shown)
    text = out.getvalue()
    assert "\x1b" not in text and "\r" not in text  # no control characters
    lines = text.splitlines()
    assert all(STAMP.match(line) for line in lines), lines
    bodies = [STAMP.sub("", line) for line in lines]
    assert bodies[0] == "preprocess: reading, checking and splitting the data"
    assert "sanity suite 1/2: initial_loss PASS" in bodies
    epochs = [b for b in bodies if b.startswith("epoch ")]
    assert [b.split()[1] for b in epochs] == ["1/3", "2/3", "3/3"]
    for line in epochs:  # every metric in full on the epoch's one line, never cut
        assert "train loss 0.6701 auc 0.5706 accuracy 0.6070" in line
        assert "val loss 0.5765 auc 0.8215 accuracy 0.6628" in line
        assert not line.endswith("…")
    assert "eta" in epochs[0] and "eta" not in epochs[-1]
    assert "Training reached the epoch limit (3) while still improving." in bodies
    assert bodies[-2:] == [
        "testing: scoring validation and test (50 bootstrap resamples)",
        "report: plots and report.html",
    ]
    assert not any("learning_curves" in b for b in bodies)  # plots: no line each in a log


def test_a_long_epoch_in_a_pipe_reports_its_batches(screen, monkeypatch):
    out = screen(tty=False, width=120)
    monkeypatch.setattr(display, "PLAIN_STEP_SECONDS", 0.0)
    with display.TrainingDisplay() as shown:
        shown.epochs("demo-1", 2, 0)
        shown.steps(0, 5, 10)
    assert "epoch 1: batch 5/10" in out.getvalue()


def test_the_live_area_keeps_epoch_elapsed_and_eta_at_80_columns(screen):
    out = screen(tty=True, width=80)
    shown = display.TrainingDisplay()
    assert shown.live
    shown.phase("train", "up to 60 epochs")
    shown.epochs("a-run-with-a-long-name-that-would-push-things-out-1", 60, 0)
    for e in range(3):
        shown.steps(e, 12, 15)
        shown.epoch(e, {**ROW, "epoch": e}, 0.4)
    shown.steps(3, 7, 15)
    area = Console(width=80, record=True, file=io.StringIO())
    area.print(shown._progress.make_tasks_table(shown._progress.tasks))
    rows = area.export_text().splitlines()
    epoch = next(r for r in rows if "epoch" in r)
    batch = next(r for r in rows if "batch" in r)
    assert "3/60" in epoch and re.search(r"\d:\d\d:\d\d", epoch) and "eta " in epoch
    assert "7/15" in batch
    assert all(len(r.rstrip()) <= 80 for r in rows)
    shown.close()
    printed = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    joined = " ".join(printed.split())  # lines may wrap at 80 columns, but nothing is cut
    assert "epoch 3/60 train loss 0.6701 auc 0.5706 accuracy 0.6070 · val loss 0.5765" in joined
    assert "…" not in printed


def test_a_table_too_wide_for_80_columns_is_stacked_not_cut(screen):
    out = screen(tty=False, width=80)
    console.table("Run demo-1", COLUMNS, METRIC_ROWS)
    text = out.getvalue()
    assert "…" not in text
    for row in METRIC_ROWS:
        for cell in row:
            assert cell in text  # every interval whole, on one line
    assert "  test             0.996 (0.987–1.000)" in text


def test_a_table_that_fits_stays_a_table_and_wraps_whole_numbers(screen):
    out = screen(tty=False, width=120)
    console.table("Run demo-1", COLUMNS, METRIC_ROWS)
    assert "┃ metric" in out.getvalue()
    narrow = screen(tty=False, width=80)
    console.table("Run demo-1", COLUMNS[:4], [row[:4] for row in METRIC_ROWS])
    text = narrow.getvalue()
    assert "┃ metric" in text and "…" not in text
    assert "(0.895–0.988)" in text and "(0.544–0.719)" in text  # wrapped, never cut


def _state(epoch, best_epoch, wait, stopped):
    return SimpleNamespace(epoch=epoch, best_epoch=best_epoch, wait=wait, best=0.1234,
                           stopped_early=stopped)  # fmt: skip


def _config(epochs=60, patience=10):
    es = None if patience is None else SimpleNamespace(patience=patience)
    return SimpleNamespace(train=SimpleNamespace(epochs=epochs, early_stopping=es))


def test_why_training_stopped_is_one_sentence():
    early = stopping.describe(_state(28, 17, 10, True), _config(), "val_loss")
    assert early["message"] == (
        "stopped early at epoch 28 (no improvement in val_loss for 10 epochs); kept epoch 18"
    )
    assert early["reason"] == "early_stopping" and not early["still_improving"]
    improving = stopping.describe(_state(60, 59, 0, False), _config(), "val_loss")
    assert improving["still_improving"] and improving["best_epoch"] == 60
    assert "while still improving" in improving["message"]
    assert "raise train.epochs" in improving["message"]
    plateau = stopping.describe(_state(60, 55, 4, False), _config(), "val_auc")
    assert plateau["message"].startswith("reached the epoch limit (60); kept epoch 56")
    assert "fewer than the patience of 10" in plateau["message"]
    off = stopping.describe(_state(5, 2, 2, False), _config(5, None), "val_loss")
    assert off["message"] == "ran all 5 epochs (no early stopping); kept epoch 3, the best val_loss"
