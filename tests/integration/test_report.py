"""`dltrain report RUN_ID`: plots and a self-contained HTML report per task, and its errors."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config

pytestmark = pytest.mark.slow

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLASSIFICATION_PLOTS = {
    "learning_curves",
    "confusion_test",
    "roc_val",
    "roc_test",
    "pr_val",
    "pr_test",
    "calibration_test",
    "per_class_test",
}
PLOTS = {
    "binary": CLASSIFICATION_PLOTS,
    "multiclass": CLASSIFICATION_PLOTS,
    "regression": {"learning_curves", "predicted_vs_true_test", "bland_altman_test"},
}
SECTIONS = [
    "summary",
    "data",
    "training",
    "sanity",
    "metrics",
    "baselines",
    "operating-point",
    "wrong",
    "plots",
    "config",
    "environment",
    "checklist",
]
HEADLINE_NAMES = {"binary": "ROC AUC", "multiclass": "balanced accuracy", "regression": "R²"}
SANITY = {
    "checks": [
        {
            "name": "loss at init",
            "verdict": "PASS",
            "value": 0.69,
            "expected": 0.6931,
            "detail": "close to -ln(1/2)",
        },
        {
            "name": "overfit one batch",
            "verdict": "WARN",
            "value": 0.2,
            "expected": "< 0.05",
            "detail": "<script>alert('x')</script> & more",
        },
        {"name": "zeroed inputs", "verdict": "FAIL", "value": None, "expected": None, "detail": ""},
    ]
}


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory, cli):
    """One tiny finished run per task: binary-1, multiclass-1, regression-1."""
    root = tmp_path_factory.mktemp("report")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("DLTRAIN_RUNS", str(root / "runs"))
    mp.setenv("DLTRAIN_CACHE", str(root / "data" / "processed"))
    sizes = {"binary": 90, "multiclass": 150, "regression": 120}
    for task, n in sizes.items():
        make_table(n=n, task=task).to_csv(root / f"{task}.csv", index=False)
        text = BASIC_CONFIG.replace("name: demo", f"name: {task}").replace(
            "table.csv", f"{task}.csv"
        )
        if task == "regression":  # errors in the target's unit
            text = text.replace("  id: patient", "  id: patient\n  unit: mmHg")
        config = write_config(root, text, name=f"{task}.yaml")
        result = cli("train", config)
        assert result.exit_code == 0, result.output
    yield root
    mp.undo()


def _plots_in(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_report_has_every_section_and_plot(trained_runs, cli, task):
    import matplotlib.pyplot as plt

    run = trained_runs / "runs" / f"{task}-1"
    figures_before = plt.get_fignums()
    result = cli("report", f"{task}-1")
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output
    assert plt.get_fignums() == figures_before  # no figure left open

    pngs = sorted((run / "plots").glob("*.png"))
    assert {p.stem for p in pngs} == PLOTS[task]
    for png in pngs:
        data = png.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, png.name
    assert not list((run / "plots").glob(".*"))  # no temporary files left behind

    html = (run / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    sections = SECTIONS + (["per-class", "confusion"] if task != "regression" else [])
    for section in sections:
        assert f'<section id="{section}">' in html, section
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "<link" not in html.lower()
    embedded = _plots_in(html)
    assert len(embedded) == len(pngs) == html.count("<img ")
    assert {p.read_bytes() for p in pngs} == set(embedded)
    metrics = json.loads((run / "metrics.json").read_text())
    headline = HEADLINE_NAMES[task]
    assert f'<tr class="headline"><td data-label="metric">{headline}' in html
    assert html.index('id="summary"') < html.index('id="data"')  # the summary comes first
    assert "What was predicted." in html and "Against simple baselines." in html
    assert metrics["stopping"]["message"][1:] in html  # why training stopped
    assert "Leakage audit" in html and "tune:" not in html  # no unused section
    for baseline in metrics["baselines"]:
        assert f"{baseline} baseline, test" in html
    assert 'class="flag' in html  # the verdict against the baselines is always shown
    assert f"seed: {3}" in html  # the resolved config
    if task == "binary":
        assert "threshold" in html and "fixed in the config" in html
    if task == "multiclass":
        assert "most probable class" in html
    if task == "regression":
        assert "mean absolute error" in html and "loa_low" not in html
        assert re.search(r"lower limit of agreement \(95%\)</td><td[^>]*>-?\d+\.\d+ mmHg", html)
    if task != "regression":
        assert "no spread ‡" in html  # the majority baseline's zero-width intervals, flagged


def test_sanity_checks_are_shown_escaped(trained_runs, cli):
    run = trained_runs / "runs" / "binary-1"
    (run / "sanity.json").write_text(json.dumps(SANITY))
    result = cli("report", "binary-1")
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text(encoding="utf-8")
    for verdict in ("PASS", "WARN", "FAIL"):
        assert f'<span class="badge {verdict}">{verdict}</span>' in html
    assert "1 PASS, 1 WARN, 1 FAIL" in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html
    assert "<script>" not in html
    assert "&lt; 0.05" in html


def test_missing_sanity_is_not_recorded(trained_runs, cli):
    shutil.copytree(trained_runs / "runs" / "regression-1", trained_runs / "runs" / "nosanity-1")
    (trained_runs / "runs" / "nosanity-1" / "sanity.json").unlink(missing_ok=True)
    result = cli("report", "nosanity-1")
    assert result.exit_code == 0, result.output
    html = (trained_runs / "runs" / "nosanity-1" / "report.html").read_text(encoding="utf-8")
    assert "Not recorded: this run has no sanity.json." in html


def test_unknown_run_is_a_usage_error(trained_runs, cli):
    result = cli("report", "binary-9")
    assert result.exit_code == 2
    assert "no run 'binary-9'" in result.output and "Did you mean binary-1" in result.output


def test_run_without_metrics_is_a_run_error(trained_runs, cli):
    broken = trained_runs / "runs" / "broken-1"
    shutil.copytree(trained_runs / "runs" / "binary-1", broken)
    (broken / "metrics.json").unlink()
    (broken / "report.html").unlink(missing_ok=True)
    result = cli("report", "broken-1")
    assert result.exit_code == 4
    assert "run broken-1 has no metrics.json" in result.output
    assert not (broken / "report.html").exists()


def test_unfinished_run_is_a_run_error(trained_runs, cli):
    failed = trained_runs / "runs" / "failed-1"
    shutil.copytree(trained_runs / "runs" / "binary-1", failed)
    status = json.loads((failed / "status.json").read_text())
    (failed / "status.json").write_text(json.dumps({**status, "status": "failed"}))
    result = cli("report", "failed-1")
    assert result.exit_code == 4
    assert "run failed-1 is failed, not completed" in result.output


def test_report_modules_do_not_import_tensorflow():
    code = (
        "import sys, dltrain.evaluation.report, dltrain.evaluation.plots; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
