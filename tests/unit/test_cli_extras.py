"""Shell completion is on (commands, options and run ids), and the report's gallery draws
each kind of sample."""

from __future__ import annotations

from importlib import import_module

import numpy as np
from typer.testing import CliRunner

from dltrain import cli

gallery = import_module("dltrain.evaluation.report.gallery")  # the module, not its function

PNG = b"\x89PNG\r\n\x1a\n"


def test_shell_completion_is_offered():
    out = CliRunner().invoke(cli.app, ["--help"]).output
    assert "--install-completion" in out and "--show-completion" in out


def test_run_ids_complete_from_the_runs_folder(workdir):
    for name in ("demo-1", "demo-2", "other-1"):
        (workdir / "runs" / name).mkdir(parents=True)
        (workdir / "runs" / name / "status.json").write_text('{"status": "completed"}')
    assert sorted(cli._run_ids("demo")) == ["demo-1", "demo-2"]


def test_the_gallery_shows_images_volumes_signals_and_text():
    image = np.random.default_rng(0).integers(0, 255, (8, 8, 1)).astype("uint8")
    assert gallery._image_png(image, "images").startswith(PNG)
    assert gallery._image_png(np.zeros((4, 6, 6)), "volumes").startswith(PNG)
    assert gallery._signal_png(np.random.default_rng(0).normal(size=(100, 3))).startswith(PNG)
    text = gallery._picture("text", np.array("fever <b>and</b> cough " * 30))
    assert text.startswith("<blockquote>fever &lt;b&gt;and&lt;/b&gt;") and "…" in text
