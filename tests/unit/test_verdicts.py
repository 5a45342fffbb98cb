"""Where the decision rule is shown: the console, the sanity suite's after-training check,
the report's baseline section and its reporting checklist (old runs included)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dltrain import views
from dltrain.evaluation.decision import BETTER, TIE, WORSE
from dltrain.evaluation.report.checklist import checklist_section
from dltrain.evaluation.report.verdicts import baselines_section


def _decision(decision, model=0.9, baseline=0.9, low=-0.02, high=0.02):
    return {
        "metric": "roc_auc",
        "model": model,
        "baseline": baseline,
        "difference": round(model - baseline, 6),
        "low": low,
        "high": high,
        "resamples": 100,
        "decision": decision,
    }


def _metrics(decisions=None):
    test = {"roc_auc": {"value": 0.996, "low": 0.98, "high": 1.0}}
    m = {
        "task": "binary",
        "confidence": 0.95,
        "bootstrap": 100,
        "threshold": 0.5,
        "positive_class": "sick",
        "test": test,
        "baselines": {
            "majority": {"roc_auc": {"value": 0.5}},
            "logistic": {"roc_auc": {"value": 0.996}},
        },
    }
    if decisions is not None:
        m["baseline_decisions"] = decisions
    return m


TIED = {
    "majority": _decision(BETTER, 0.996, 0.5, 0.45, 0.5),
    "logistic": _decision(TIE, 0.996, 0.996, -0.01, 0.01),
}


def test_console_warns_of_a_tie_by_the_decision_not_as_a_loss(monkeypatch):
    said = []
    monkeypatch.setattr(views.console, "warn", said.append)
    views.flag_baselines(_metrics(TIED))
    assert len(said) == 1
    assert "not detectably different from logistic" in said[0] and "95% CI" in said[0]


def test_console_calls_an_old_runs_equal_values_a_tie(monkeypatch):
    said = []
    monkeypatch.setattr(views.console, "warn", said.append)
    views.flag_baselines(_metrics())  # metrics.json of a run trained before the decisions
    assert len(said) == 1
    assert said[0].startswith("the model ties with the logistic baseline (test roc_auc 0.996")


def test_console_table_has_a_decision_row(monkeypatch):
    shown = {}
    monkeypatch.setattr(
        views.console, "table", lambda title, columns, rows, **kw: shown.update(rows=rows)
    )
    monkeypatch.setattr(views.console, "warn", lambda message: None)
    views.metrics(_metrics(TIED), "Run demo-1")
    last = shown["rows"][-1]
    assert last[0] == "model vs baseline"
    assert last[-1].startswith("no detectable difference on roc_auc: +0.000")
    views.metrics(_metrics(), "Run demo-1")  # an old run: no decision row
    assert shown["rows"][-1][0] == "roc_auc"


def test_sanity_after_training_uses_the_decisions():
    sanity = pytest.importorskip("dltrain.training.sanity")
    checks = [
        sanity.Check("baseline_majority", "INFO", 0.5, None, ""),
        sanity.Check("baseline_logistic", "INFO", 0.996, None, ""),
    ]
    tie = sanity.beats_baselines("binary", 0.996, checks, TIED)
    assert tie.verdict == "WARN" and "not detectably different from logistic" in tie.detail
    won = {n: _decision(BETTER, 0.99, 0.5, 0.1, 0.4) for n in ("majority", "logistic")}
    assert sanity.beats_baselines("binary", 0.99, checks, won).verdict == "PASS"
    lost = {"logistic": _decision(WORSE, 0.8, 0.9, -0.15, -0.05)}
    assert "worse than logistic" in sanity.beats_baselines("binary", 0.8, checks, lost).detail


def _run(metrics, kind="tabular", config="data: {kind: tabular, group: patient}\n"):
    dataset = {
        "kind": kind,
        "source": {"path": "data/table.csv", "rows": 120, "sha256": "ab" * 32},
        "split": {
            "method": "group",
            "seed": 3,
            "train": {"rows": 80, "class_counts": {"sick": 30}},
        },
    }
    return SimpleNamespace(
        metrics=metrics, dataset=dataset, environment={}, config=config, task=metrics["task"]
    )


def test_report_baseline_section_shows_each_decision():
    html = baselines_section(_run(_metrics(TIED)))
    assert "not detectably different from</b> logistic" in html
    assert "+0.446" in html or "+0.496" in html  # the majority's difference
    assert "no detectable difference" in html and "better" in html


def test_report_baseline_section_of_an_old_run_says_so():
    html = baselines_section(_run(_metrics()))
    assert "recorded no paired-bootstrap decisions" in html


def test_checklist_is_tripod_ai_for_tables_and_claim_for_images():
    html = checklist_section(_run(_metrics(TIED)))
    assert "TRIPOD+AI" in html and "to be completed by the author" in html
    assert "whole groups of &#x27;patient&#x27;" in html  # the splitting unit
    assert "train 80 (sick 30)" in html
    images = checklist_section(_run(_metrics(TIED), kind="images", config="data: {kind: images}"))
    assert "CLAIM" in images and "Level at which partitions are disjoint" in images
    assert "single samples" in images


def test_checklist_marks_missing_decisions_and_calibration_to_complete():
    html = checklist_section(_run(_metrics()))  # an old run, no calibration metrics
    assert "not decided by a paired bootstrap" in html
    assert "no calibration metric was recorded on test" in html
