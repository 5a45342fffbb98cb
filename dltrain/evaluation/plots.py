"""The plots of a finished run: PNG files under `runs/<id>/plots/`, read from the run's files.

Everything is drawn from what the run folder already holds (history.csv,
metrics.json, predictions/*.csv); nothing is recomputed with the model, so the
plots can be rebuilt at any time and never touch TensorFlow. Curves come from
scikit-learn (`roc_curve`, `precision_recall_curve`, `calibration_curve`).

Figures are `matplotlib.figure.Figure` objects drawn on an Agg canvas, never
pyplot: no global backend is switched, no display is needed, and no figure is
left registered anywhere (matplotlib's advice for servers).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.calibration import calibration_curve
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from dltrain import runs, tasks
from dltrain.errors import RunError
from dltrain.evaluation.metrics import PER_CLASS

SIZE = (6.0, 4.5)  # inches
DPI = 100
SPLIT_NAMES = {"val": "validation", "test": "test"}
AUGMENTED_GRID = "augmented_batch.png"


def image_grid(images, labels: list[str], title: str) -> bytes:
    """A PNG of up to 16 images (uint8-range floats, HxWxC) in a 4x4 grid with labels."""
    fig = Figure(figsize=(6, 6.4))
    FigureCanvasAgg(fig)
    n = min(16, len(images))
    for i in range(n):
        ax = fig.add_subplot(4, 4, i + 1)
        img = np.clip(np.asarray(images[i]), 0, 255).astype("uint8")
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(str(labels[i]), fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    fig.clear()
    return buffer.getvalue()


def make_plots(run_dir: Path, drawn: Callable[[int, str], None] | None = None) -> list[Path]:
    """Draws every plot that the run's files support into `run_dir/plots/`.

    Learning curves for every task; for classification the test confusion matrix,
    ROC and precision-recall curves (validation and test) with the operating point,
    a reliability diagram and per-class metric bars on test; for regression a
    predicted-vs-true scatter and a Bland-Altman plot on test. A plot whose input
    file is absent (e.g. an older run without predictions/val.csv) is left out.

    Args:
        run_dir: a finished run folder (it must hold metrics.json).
        drawn: called as `drawn(count, name)` after each plot is written (progress).
            Defaults to None.

    Returns:
        The PNG files written, in display order.

    Example:
        >>> make_plots(Path("runs/breast-cancer-1"))  # doctest: +SKIP
        [PosixPath('runs/breast-cancer-1/plots/learning_curves.png'), ...]
    """
    run_dir = Path(run_dir)
    metrics = runs.read_json(run_dir / "metrics.json")
    task = tasks.get(metrics.get("task"))
    out = runs.run_subdir(run_dir, "plots")
    written: list[Path] = []

    def save(name: str, draw: Callable[[], Figure | None]) -> None:
        fig = draw()
        if fig is None:
            return
        buffer = io.BytesIO()
        FigureCanvasAgg(fig)
        fig.savefig(buffer, format="png", dpi=DPI)
        fig.clear()
        path = out / f"{name}.png"
        runs.atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
        if drawn is not None:
            drawn(len(written), name)

    history = _read_csv(run_dir / "history.csv")
    if history is not None and len(history):
        save("learning_curves", lambda: learning_curves(history, metrics))
    preds = {s: _read_csv(run_dir / "predictions" / f"{s}.csv") for s in ("val", "test")}
    if task.exclusive:
        _class_plots(save, task, metrics, preds)
    elif task.standardised and preds["test"] is not None:
        y = preds["test"]["true"].to_numpy(dtype="float64")
        p = preds["test"]["predicted"].to_numpy(dtype="float64")
        unit = _unit(run_dir)
        save("predicted_vs_true_test", lambda: predicted_vs_true(y, p, "test", unit))
        save("bland_altman_test", lambda: bland_altman(y, p, metrics, "test", unit))
    grid = out / AUGMENTED_GRID  # drawn at training time (it needs the model's layers)
    if grid.exists():
        written.append(grid)
    return written


def _class_plots(save, task, metrics: dict, preds: dict) -> None:
    """Confusion matrix, ROC and PR curves, calibration and per-class bars (one class per
    sample)."""
    classes = [str(c) for c in metrics["classes"]]
    scored = {s: _scores(p, task, classes) for s, p in preds.items() if p is not None}
    if metrics.get("confusion", {}).get("test") is not None:
        save("confusion_test", lambda: confusion_matrix(metrics, "test"))
    for split, (y, s) in scored.items():
        save(f"roc_{split}", lambda y=y, s=s, split=split: roc(y, s, metrics, split))
    for split, (y, s) in scored.items():
        save(f"pr_{split}", lambda y=y, s=s, split=split: pr(y, s, metrics, split))
    if "test" in scored:
        y, s = scored["test"]
        save("calibration_test", lambda: calibration(y, s, metrics, "test"))
    if metrics.get("per_class", {}).get("test"):
        save("per_class_test", lambda: per_class(metrics, "test"))


# --- reading -------------------------------------------------------------------------------


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        return pd.read_csv(path, dtype={"id": str, "true": str, "predicted": str})
    except (OSError, ValueError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None


def _unit(run_dir: Path) -> str:
    """ " (mmHg)": the target's unit from the run's config (`data.unit`), or ""."""
    import yaml

    path = run_dir / "config.yaml"
    unit = ((yaml.safe_load(path.read_text()) or {}).get("data") or {}) if path.is_file() else {}
    return f" ({unit['unit']})" if unit.get("unit") else ""


def _scores(preds: pd.DataFrame, task, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(class index per row, probabilities): (n,) positive-class for binary, (n, C) otherwise."""
    unknown = sorted(set(preds["true"]) - set(classes))
    if unknown:
        raise RunError(
            f"predictions name class(es) {', '.join(unknown)} that metrics.json does not list "
            f"({', '.join(classes)}); the run folder is inconsistent"
        )
    return task.read_predictions(preds, classes)


def _figure(size: tuple[float, float] = SIZE) -> Figure:
    return Figure(figsize=size, dpi=DPI, layout="constrained")


def _split(split: str) -> str:
    return SPLIT_NAMES.get(split, split)


def _not_defined(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, wrap=True)


# --- every task ----------------------------------------------------------------------------


def learning_curves(history: pd.DataFrame, metrics: dict) -> Figure:
    """Loss and each compiled metric per epoch, training vs validation, best epoch marked."""
    names = [c for c in history.columns if c not in ("epoch", "stage") and not c.startswith("val_")]
    names.sort(key=lambda c: (c != "loss", c))
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = _figure((4.2 * cols, 3.3 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    epoch = history["epoch"].to_numpy() + 1 if "epoch" in history else np.arange(len(history)) + 1
    marker = "o" if len(history) <= 20 else None
    monitor = metrics.get("monitor")
    best = None
    if monitor in history:
        values = history[monitor].to_numpy(dtype="float64")
        if np.isfinite(values).any():
            higher = monitor.removeprefix("val_") in tasks.COMPILED_HIGHER_IS_BETTER
            best = epoch[int(np.nanargmax(values) if higher else np.nanargmin(values))]
    units = " (standardised target)" if tasks.get(metrics.get("task")).standardised else ""
    for ax, name in zip(axes, names, strict=False):
        ax.plot(epoch, history[name], marker=marker, markersize=3, label="training")
        if f"val_{name}" in history:
            ax.plot(epoch, history[f"val_{name}"], marker=marker, markersize=3, label="validation")
        if best is not None:
            ax.axvline(best, color="grey", linestyle=":", label=f"best epoch ({monitor})")
        if "stage" in history and (history["stage"] == 2).any():  # two-stage fine-tuning
            first = epoch[int(np.argmax(history["stage"].to_numpy() == 2))]
            ax.axvline(first - 0.5, color="tab:red", linestyle="--", label="stage 2: unfrozen")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name + (units if name != "loss" and units else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle("Learning curves — training and validation splits")
    return fig


# --- classification ------------------------------------------------------------------------


def confusion_matrix(metrics: dict, split: str) -> Figure:
    """Counts (rows: true class, columns: predicted class), with row percentages."""
    cm = np.asarray(metrics["confusion"][split], dtype="int64")
    classes = [str(c) for c in metrics["classes"]]
    n = len(classes)
    side = max(SIZE[1], 0.55 * n + 2.5)  # grows with the classes: every cell stays legible
    fig = _figure((max(SIZE[0], side + 1.5), side))
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    row_totals = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, row_totals, out=np.zeros(cm.shape), where=row_totals > 0)
    threshold = cm.max() / 2 if cm.size else 0
    size = 10 if n <= 6 else 8 if n <= 15 else 6
    for (i, j), count in np.ndenumerate(cm):
        color = "white" if count > threshold else "black"
        text = f"{count}\n{share[i, j]:.0%}" if n <= 10 else str(count)
        ax.text(j, i, text, ha="center", va="center", color=color, fontsize=size)
    ax.set_xticks(range(n), classes, rotation=30 if n > 3 else 0, ha="right" if n > 3 else "center")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    rule = _decision_rule(metrics)
    ax.set_title(f"Confusion matrix — {_split(split)} split (n={int(cm.sum())}, {rule})")
    return fig


def _decision_rule(metrics: dict) -> str:
    if metrics.get("threshold") is not None:
        return f"threshold {metrics['threshold']:.3g}"
    return "most probable class"


def _one_vs_rest(y: np.ndarray, s: np.ndarray, metrics: dict):
    """(label, y 0/1, score, decided-positive mask) per curve: the positive class, or each class."""
    classes = [str(c) for c in metrics["classes"]]
    if tasks.get(metrics["task"]).chooses_threshold:
        t = metrics.get("threshold")
        t = 0.5 if t is None else float(t)
        yield metrics.get("positive_class") or classes[1], y, s, s >= t
        return
    top = np.argmax(s, axis=1)
    for i, c in enumerate(classes):
        yield c, (y == i).astype("int64"), s[:, i], top == i


def roc(y: np.ndarray, s: np.ndarray, metrics: dict, split: str) -> Figure:
    """ROC curve(s) on one split: binary for the positive class, multiclass one-vs-rest."""
    fig = _figure()
    ax = fig.subplots()
    binary = tasks.get(metrics["task"]).chooses_threshold
    drawn = 0
    for k, (label, y01, score, decided) in enumerate(_one_vs_rest(y, s, metrics)):
        if y01.min() == y01.max():
            continue  # one class only: the curve is not defined
        fpr, tpr, _ = roc_curve(y01, score)
        color = f"C{k}"
        ax.plot(fpr, tpr, color=color, label=f"{label} (AUC {auc(fpr, tpr):.3f})")
        pos, neg = y01 == 1, y01 == 0
        ax.plot(
            decided[neg].mean(),
            decided[pos].mean(),
            "o",
            color=color,
            markeredgecolor="black",
            markersize=8,
        )
        drawn += 1
    if not drawn:
        _not_defined(ax, "not defined: the split holds one class only")
    _point_legend(ax, metrics)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("1 − specificity (false positive rate)")
    ax.set_ylabel("sensitivity (true positive rate)")
    what = f"positive class {_label(metrics)}" if binary else "one-vs-rest per class"
    ax.set_title(f"ROC — {_split(split)} split ({what})")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def _point_legend(ax, metrics: dict) -> None:
    """One legend entry for the operating-point dots (each drawn in its curve's colour)."""
    label = f"operating point ({_decision_rule(metrics)})"
    ax.plot([], [], "o", color="white", markeredgecolor="black", markersize=8, label=label)


def _label(metrics: dict) -> str:
    return str(metrics.get("positive_class") or metrics["classes"][-1])


def pr(y: np.ndarray, s: np.ndarray, metrics: dict, split: str) -> Figure:
    """Precision-recall curve(s) on one split, prevalence as the no-skill line."""
    fig = _figure()
    ax = fig.subplots()
    binary = tasks.get(metrics["task"]).chooses_threshold
    drawn = 0
    for k, (label, y01, score, decided) in enumerate(_one_vs_rest(y, s, metrics)):
        if y01.min() == y01.max():
            continue
        precision, recall, _ = precision_recall_curve(y01, score)
        color = f"C{k}"
        ap = average_precision_score(y01, score)
        ax.plot(
            recall, precision, color=color, drawstyle="steps-post", label=f"{label} (AP {ap:.3f})"
        )
        prevalence = y01.mean()
        ax.axhline(prevalence, color=color, linestyle="--", linewidth=1, alpha=0.6)
        if decided.any():
            tp = (decided & (y01 == 1)).sum()
            ax.plot(
                tp / (y01 == 1).sum(),
                tp / decided.sum(),
                "o",
                color=color,
                markeredgecolor="black",
                markersize=8,
            )
        drawn += 1
    if not drawn:
        _not_defined(ax, "not defined: the split holds one class only")
    _point_legend(ax, metrics)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("recall (sensitivity)")
    ax.set_ylabel("precision (PPV)")
    what = f"positive class {_label(metrics)}" if binary else "one-vs-rest per class"
    ax.set_title(f"Precision-recall — {_split(split)} split ({what})")
    ax.legend(loc="lower left", fontsize="small", title="dashed: prevalence")
    ax.grid(alpha=0.3)
    return fig


def calibration(y: np.ndarray, s: np.ndarray, metrics: dict, split: str) -> Figure:
    """Reliability diagram: binary on P(positive); multiclass on the top-class confidence.

    Bins hold about equal numbers of samples (`strategy="quantile"`), n // 20 of them
    (between 3 and 10), so that small test splits do not produce near-empty bins.
    """
    if tasks.get(metrics["task"]).chooses_threshold:
        y01, prob = y, s
        xlabel = f"mean predicted P({_label(metrics)})"
        ylabel = f"observed fraction {_label(metrics)}"
        what = f"P({_label(metrics)})"
    else:
        top = np.argmax(s, axis=1)
        y01, prob = (top == y).astype("int64"), s.max(axis=1)
        xlabel = "mean confidence (probability of the predicted class)"
        ylabel = "observed accuracy"
        what = "top-class confidence"
    n_bins = int(min(10, max(3, len(y01) // 20)))
    fig = _figure()
    top_ax, hist_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top_ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    if len(y01):
        observed, predicted = calibration_curve(y01, prob, n_bins=n_bins, strategy="quantile")
        top_ax.plot(predicted, observed, "o-", label=f"model ({n_bins} equal-count bins)")
    brier = metrics.get(split, {}).get("brier", {}).get("value")
    if brier is not None:
        scope = "" if tasks.get(metrics["task"]).chooses_threshold else ", all classes"
        top_ax.plot([], [], " ", label=f"Brier score {brier:.3f}{scope}")
    top_ax.set_ylim(-0.02, 1.02)
    top_ax.set_ylabel(ylabel)
    top_ax.set_title(f"Calibration — {_split(split)} split ({what})")
    top_ax.legend(loc="upper left", fontsize="small")
    top_ax.grid(alpha=0.3)
    hist_ax.hist(prob, bins=20, range=(0, 1), color="C0", alpha=0.7)
    hist_ax.set_xlabel(xlabel)
    hist_ax.set_ylabel("samples")
    hist_ax.set_xlim(-0.02, 1.02)
    return fig


MAX_BAR_CLASSES = 6  # more classes: a table of colours (one row per class) stays legible


def per_class(metrics: dict, split: str) -> Figure:
    """Sensitivity, specificity, PPV, NPV and F1 of each class (one-vs-rest): grouped bars
    for a few classes, a heat map with the values written in for many."""
    table = metrics["per_class"][split]
    classes = list(table)
    if len(classes) > MAX_BAR_CLASSES:
        return per_class_map(metrics, split)
    fig = _figure((max(6.0, 1.6 * len(classes) + 2), 4.5))
    ax = fig.subplots()
    width = 0.8 / len(PER_CLASS)
    x = np.arange(len(classes))
    for k, name in enumerate(PER_CLASS):
        values = [table[c].get(name) for c in classes]
        heights = [np.nan if v is None else v for v in values]
        bars = ax.bar(x + (k - (len(PER_CLASS) - 1) / 2) * width, heights, width, label=name)
        for bar, v in zip(bars, values, strict=True):
            if v is None:
                ax.text(bar.get_x() + width / 2, 0.01, "n/a", ha="center", rotation=90, fontsize=8)
    labels = [f"{c}\n(n={table[c].get('support', '?')})" for c in classes]
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 1.2)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlabel("class (one-vs-rest)")
    ax.set_ylabel("value")
    ax.set_title(f"Per-class metrics — {_split(split)} split ({_decision_rule(metrics)})")
    ax.legend(fontsize="small", ncols=len(PER_CLASS), loc="upper center")
    ax.grid(axis="y", alpha=0.3)
    return fig


def per_class_map(metrics: dict, split: str) -> Figure:
    """Per-class metrics as a heat map: a row per class, a column per metric, values in."""
    table = metrics["per_class"][split]
    classes = list(table)
    values = np.array(
        [[np.nan if table[c].get(k) is None else table[c][k] for k in PER_CLASS] for c in classes],
        dtype="float64",
    )
    fig = _figure((7.5, max(SIZE[1], 0.38 * len(classes) + 1.8)))
    ax = fig.subplots()
    image = ax.imshow(values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "n/a" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(PER_CLASS)), PER_CLASS)
    labels = [f"{c} (n={table[c].get('support', '?')})" for c in classes]
    ax.set_yticks(range(len(classes)), labels, fontsize=8 if len(classes) > 15 else 9)
    ax.set_title(f"Per-class metrics — {_split(split)} split ({_decision_rule(metrics)})")
    fig.colorbar(image, ax=ax, fraction=0.04)
    return fig


# --- regression ----------------------------------------------------------------------------


def predicted_vs_true(y: np.ndarray, p: np.ndarray, split: str, unit: str = "") -> Figure:
    """Scatter of predictions against the truth, with the identity line."""
    fig = _figure()
    ax = fig.subplots()
    ax.scatter(y, p, s=16, alpha=0.7, label=f"samples (n={len(y)})")
    both = np.concatenate([y, p])
    lo, hi = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", linestyle="--", label="y = x")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xlabel(f"true value{unit}")
    ax.set_ylabel(f"predicted value{unit}")
    ax.set_title(f"Predicted vs true — {_split(split)} split")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def bland_altman(y: np.ndarray, p: np.ndarray, metrics: dict, split: str, unit="") -> Figure:
    """Difference (predicted − true) against the mean of the two, bias and ±1.96 SD limits."""
    diff = p - y
    mean = (p + y) / 2
    recorded = metrics.get(split, {})

    def value(name: str, fallback: float) -> float:
        v = recorded.get(name, {}).get("value")
        return float(fallback if v is None else v)

    sd = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
    bias = value("bias", float(diff.mean()) if len(diff) else 0.0)
    low = value("loa_low", bias - 1.96 * sd)
    high = value("loa_high", bias + 1.96 * sd)
    fig = _figure()
    ax = fig.subplots()
    ax.scatter(mean, diff, s=16, alpha=0.7, label=f"samples (n={len(y)})")
    ax.axhline(bias, color="C3", label=f"bias {bias:.3g}")
    ax.axhline(high, color="C3", linestyle="--", label=f"bias ± 1.96 SD [{low:.3g}, {high:.3g}]")
    ax.axhline(low, color="C3", linestyle="--")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"mean of predicted and true{unit}")
    ax.set_ylabel(f"predicted − true{unit}")
    ax.set_title(f"Bland-Altman — {_split(split)} split")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return fig
