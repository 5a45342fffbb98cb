"""The report's gallery: the test samples the model got most confidently wrong.

Classification: the wrong predictions with the highest probability for the predicted
class; regression: the largest errors. Each card shows the sample as the model saw it
(read from the run's cached test split: images and volume slices as pictures, signals as
small plots, texts as snippets) with its id, truth and prediction; a table row has only
its id. Without the cache (deleted), the cards have no picture.
"""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

import numpy as np

from dltrain import tasks
from dltrain.evaluation.report.page import _num
from dltrain.evaluation.report.run import _Run

SHOWN = 8
SNIPPET = 240  # characters of a text shown
THUMB = 128  # pixels of an image's longer side


def gallery(run: _Run) -> str:
    picked = _most_wrong(run)
    if picked is None:
        return "<p>Not available: the run has no test predictions with a truth to compare.</p>"
    if not len(picked):
        return "<p>No test sample was predicted wrongly.</p>"
    samples = _samples(run, list(picked["id"].astype(str)))
    cards = [_card(row, samples.get(str(row["id"])), run) for _, row in picked.iterrows()]
    what = (
        "the largest errors"
        if not tasks.get(run.task).has_classes
        else "wrong predictions with the highest probability for the predicted class"
    )
    return (
        f"<p class=muted>The {len(cards)} test samples the model got most confidently wrong "
        f"({what}): look for a pattern (label errors, artefacts, a sub-group).</p>"
        f'<div class="gallery">{"".join(cards)}</div>'
    )


def _most_wrong(run: _Run):
    import pandas as pd

    path = run.dir / "predictions" / "test.csv"
    task = tasks.get(run.task)
    if not path.is_file() or not (task.exclusive or task.standardised):
        return None
    preds = pd.read_csv(path, dtype={"id": str, "true": str, "predicted": str})
    if "true" not in preds:
        return None
    if task.exclusive:
        wrong = preds[preds["true"] != preds["predicted"]].copy()
        wrong["score"] = [
            float(row.get(f"prob_{row['predicted']}", np.nan)) for _, row in wrong.iterrows()
        ]
    else:
        wrong = preds.copy()
        wrong["score"] = (wrong["predicted"].astype(float) - wrong["true"].astype(float)).abs()
    return wrong.sort_values("score", ascending=False, kind="stable").head(SHOWN)


def _samples(run: _Run, ids: list[str]) -> dict[str, np.ndarray]:
    """The stored inputs of `ids` from the cached test split ({} without the cache)."""
    cache = (run.dataset or {}).get("cache")
    kind = (run.dataset or {}).get("kind", "tabular")
    if not cache or kind == "tabular" or not Path(cache).is_dir():
        return {}
    wanted, found = set(ids), {}
    for shard in sorted(Path(cache).glob("test-*.npz")):
        try:
            with np.load(shard, allow_pickle=False) as f:
                shard_ids = [str(i) for i in f["ids"]]
                hits = [i for i, sid in enumerate(shard_ids) if sid in wanted]
                for i in hits:
                    found[shard_ids[i]] = np.asarray(f["x"][i])
        except (OSError, KeyError, ValueError):
            return {}  # the cache is an extra: no pictures rather than no report
    return found


def _card(row, x: np.ndarray | None, run: _Run) -> str:
    kind = (run.dataset or {}).get("kind", "tabular")
    task = tasks.get(run.task)
    if task.exclusive:
        said = (
            f"true <b>{escape(str(row['true']))}</b> · predicted "
            f"<b>{escape(str(row['predicted']))}</b> (p = {_num(row['score'], 2)})"
        )
    else:
        said = (
            f"true {_num(float(row['true']))}{escape(run.unit)} · predicted "
            f"{_num(float(row['predicted']))}{escape(run.unit)}"
        )
    return (
        f'<div class="card">{_picture(kind, x)}<div>{said}</div>'
        f'<div class="muted">id <code>{escape(str(row["id"]))}</code></div></div>'
    )


def _picture(kind: str, x: np.ndarray | None) -> str:
    if x is None:
        return ""
    if kind == "text":
        text = str(x.item() if x.shape == () else x)
        short = text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")
        return f"<blockquote>{escape(short)}</blockquote>"
    png = _signal_png(x) if kind == "signals" else _image_png(x, kind)
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="test sample">'


def _image_png(x: np.ndarray, kind: str) -> bytes | None:
    from PIL import Image

    if kind == "volumes":  # the middle slice
        x = x[x.shape[0] // 2]
    x = np.asarray(x, dtype="float64")
    if x.ndim == 3 and x.shape[-1] not in (1, 3):
        return None
    x = x[..., 0] if x.ndim == 3 and x.shape[-1] == 1 else x
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    scaled = np.zeros_like(x) if hi <= lo else (x - lo) / (hi - lo) * 255
    image = Image.fromarray(np.nan_to_num(scaled).astype("uint8"))
    factor = max(1, THUMB // max(image.size))
    image = image.resize((image.width * factor, image.height * factor), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _signal_png(x: np.ndarray) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = np.asarray(x, dtype="float64").reshape(len(x), -1)
    fig = Figure(figsize=(2.4, 1.3), dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for channel in range(min(series.shape[1], 6)):
        ax.plot(series[:, channel], linewidth=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    fig.clear()
    return buffer.getvalue()
