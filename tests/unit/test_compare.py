"""`dltrain compare`: a paired bootstrap of B − A on hand-made finished runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from typer.testing import CliRunner

from dltrain.cli import app
from dltrain.config import dump_config, load_config
from dltrain.errors import DataError
from dltrain.evaluation import metrics as M
from dltrain.evaluation.compare import compare_runs, summary
from tests.conftest import BASIC_CONFIG, make_table, write_config

CLASSES = ["healthy", "sick"]
N = 60
Y = np.random.default_rng(0).permutation(np.arange(N) % 2)  # 30 of each
ROWS = np.arange(0, 2 * N, 2)  # 0-based data rows of the test split


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DLTRAIN_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def fake_run(
    runs_dir: Path,
    run_id: str,
    prob_sick: np.ndarray,
    *,
    threshold: float = 0.5,
    status: str = "completed",
    test_sha: str = "t" * 64,
    source_sha: str = "s" * 64,
    rows: np.ndarray = ROWS,
    config_text: str = BASIC_CONFIG,
    source: Path | None = None,
) -> Path:
    """A finished run folder with just what `compare` reads."""
    folder = runs_dir / run_id
    (folder / "predictions").mkdir(parents=True)
    config = load_config(write_config(folder, config_text, "given.yaml"))
    (folder / "config.yaml").write_text(dump_config(config))
    (folder / "status.json").write_text(json.dumps({"status": status}))
    dataset = {
        "kind": "tabular",
        "source": {"path": str(source or runs_dir / "table.csv"), "sha256": source_sha},
        "task": "binary",
        "classes": CLASSES,
        "split": {"test": {"rows": len(rows), "sha256": test_sha}},
        "rows": {"test": rows.tolist()},
    }
    (folder / "dataset.json").write_text(json.dumps(dataset))
    metrics = {
        "task": "binary",
        "classes": CLASSES,
        "threshold": threshold,
        "confidence": 0.95,
        "test": {},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    table = pd.DataFrame(
        {
            "id": [f"s{r}" for r in rows],
            "row": rows + 1,
            "true": np.asarray(CLASSES)[Y],
            "predicted": np.asarray(CLASSES)[(prob_sick >= threshold).astype(int)],
            "prob_healthy": 1 - prob_sick,
            "prob_sick": prob_sick,
        }
    )
    table.iloc[::-1].to_csv(folder / "predictions" / "test.csv", index=False)  # order is not used
    return folder


def noise() -> np.ndarray:
    return np.round(np.random.default_rng(1).uniform(size=N), 4)


def good() -> np.ndarray:
    return np.round(0.15 + 0.7 * Y + np.random.default_rng(2).uniform(-0.1, 0.1, size=N), 4)


def test_a_clearly_better_b_has_a_positive_difference_whose_ci_excludes_zero(runs_dir):
    fake_run(runs_dir, "a-1", noise())
    fake_run(runs_dir, "b-1", good())
    comparison = compare_runs("a-1", "b-1", n_boot=500)
    result = comparison.result
    auc = result["metrics"]["roc_auc"]
    expected_a = round(skm.roc_auc_score(Y, noise()), 6)
    assert (auc["a"], auc["b"]) == (expected_a, 1.0)
    assert auc["difference"] == pytest.approx(1.0 - expected_a, abs=2e-6)
    assert 0 < auc["low"] < auc["difference"] < auc["high"] <= 1.0
    assert (auc["p"], auc["favours"], auc["resamples"]) == (0.0, "b", 500)
    brier = result["metrics"]["brier"]
    assert brier["high"] < 0 and brier["favours"] == "b"  # lower Brier is better
    assert (result["bootstrap"], result["seed"], result["resampled"]) == (500, 3, "rows")
    assert comparison.path == runs_dir / "b-1" / "comparisons" / "a-1.json"
    assert json.loads(comparison.path.read_text()) == result
    title, columns, rows, caption = summary(result)
    assert columns == ["metric", "A a-1", "B b-1", "B − A (95% CI)", "p", "favours"]
    assert rows[2][0] == "roc_auc" and rows[2][4:] == ["<0.004", "B (b-1)"]
    assert "500 resamples of the test rows" in caption


def test_identical_runs_differ_by_exactly_zero(runs_dir):
    fake_run(runs_dir, "a-1", noise())
    fake_run(runs_dir, "a-2", noise())
    result = compare_runs("a-1", "a-2", n_boot=200).result
    for name, m in result["metrics"].items():
        assert (m["difference"], m["low"], m["high"]) == (0.0, 0.0, 0.0), name
        assert (m["p"], m["favours"]) == (1.0, None), name
    assert result["test_set"]["same_preprocessing"] is True


def test_each_run_is_scored_with_its_own_threshold(runs_dir):
    fake_run(runs_dir, "a-1", good(), threshold=0.5)
    fake_run(runs_dir, "b-1", good(), threshold=0.8)
    result = compare_runs("a-1", "b-1", n_boot=100).result
    sens = result["metrics"]["sensitivity"]
    assert sens["a"] == round(skm.recall_score(Y, good() >= 0.5), 6) == 1.0
    assert sens["b"] == round(skm.recall_score(Y, good() >= 0.8), 6)
    assert sens["b"] < 1.0
    assert sens["high"] < 0 and sens["favours"] == "a"  # the resamples use B's threshold too
    assert result["metrics"]["roc_auc"]["difference"] == 0.0
    assert result["thresholds"] == {"a": 0.5, "b": 0.8}


def test_same_rows_with_other_preprocessing_are_compared_and_recorded(runs_dir):
    fake_run(runs_dir, "a-1", noise(), test_sha="1" * 64)
    fake_run(runs_dir, "b-1", good(), test_sha="2" * 64)
    test_set = compare_runs("a-1", "b-1", n_boot=100).result["test_set"]
    assert test_set["same_preprocessing"] is False
    assert test_set["sha256"] == {"a": "1" * 64, "b": "2" * 64}


def test_groups_are_resampled_when_the_config_has_one(runs_dir, monkeypatch):
    table = make_table(n=2 * N, groups=20)
    table.to_csv(runs_dir.parent / "table.csv", index=False)
    sha = hashlib.sha256((runs_dir.parent / "table.csv").read_bytes()).hexdigest()
    grouped = BASIC_CONFIG.replace("id: patient", "group: patient")
    kw = {"config_text": grouped, "source_sha": sha, "source": runs_dir.parent / "table.csv"}
    fake_run(runs_dir, "a-1", noise(), **kw)
    fake_run(runs_dir, "b-1", good(), **kw)
    seen = []
    draw = M.bootstrap_weights
    monkeypatch.setattr(M, "bootstrap_weights", lambda *a: seen.append(a[3]) or draw(*a))
    result = compare_runs("a-1", "b-1", n_boot=100).result
    assert result["resampled"] == "groups of 'patient' (10 groups)"  # even rows: p0, p2, ... p18
    assert len(seen) == 1 and seen[0].tolist() == table["patient"].iloc[ROWS].tolist()


def run_cli(*args: str):
    result = CliRunner().invoke(app, ["compare", *args])
    assert "Traceback" not in result.output
    return result


def test_command_prints_the_table_and_writes_the_json(runs_dir):
    fake_run(runs_dir, "a-1", noise())
    fake_run(runs_dir, "b-1", good())
    result = run_cli("a-1", "b-1", "--bootstrap", "50")
    assert result.exit_code == 0, result.output
    assert "b-1 (B) − a-1 (A) on the same 60 test rows" in result.output
    assert "Paired bootstrap: 50 resamples" in result.output
    assert (runs_dir / "b-1" / "comparisons" / "a-1.json").is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"rows": ROWS + 1},
            "the test splits of a-1 (60 rows) and b-1 (60 rows) differ: 60 row(s)",
        ),
        ({"source_sha": "x" * 64}, "runs a-1 and b-1 were trained on different data files"),
    ],
)
def test_different_test_samples_are_refused_with_exit_3(runs_dir, change, message):
    fake_run(runs_dir, "a-1", noise())
    fake_run(runs_dir, "b-1", good(), **change)
    result = run_cli("a-1", "b-1")
    assert result.exit_code == 3, result.output
    assert message in result.output
    assert not (runs_dir / "b-1" / "comparisons").exists()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("classes", ["sick", "healthy"], "runs a-1 and b-1 have different classes"),
        ("task", "multiclass", "run a-1 is a binary task and run b-1 a multiclass task"),
    ],
)
def test_different_tasks_or_classes_are_refused(runs_dir, key, value, message):
    fake_run(runs_dir, "a-1", noise())
    b = fake_run(runs_dir, "b-1", noise())
    dataset = json.loads((b / "dataset.json").read_text())
    dataset[key] = value
    (b / "dataset.json").write_text(json.dumps(dataset))
    with pytest.raises(DataError, match=message):
        compare_runs("a-1", "b-1", n_boot=100)


def test_unfinished_and_unknown_runs_are_refused(runs_dir):
    fake_run(runs_dir, "a-1", noise())
    fake_run(runs_dir, "b-1", good(), status="interrupted")
    result = run_cli("a-1", "b-1")
    assert result.exit_code == 4, result.output
    assert "run b-1 is 'interrupted', not completed" in result.output
    result = run_cli("a-1", "a-9")
    assert result.exit_code == 2, result.output
    assert "no run 'a-9'" in result.output


def test_delong_and_mcnemar_are_reported_beside_the_bootstrap(runs_dir):
    """The classic paired tests: DeLong's z on the same AUCs the bootstrap reports, and
    McNemar's on the accuracies at each run's own threshold (here, 30 vs 60 right)."""
    from dltrain.evaluation.paired_tests import delong, mcnemar

    fake_run(runs_dir, "a-1", noise())
    fake_run(runs_dir, "b-1", good())
    result = compare_runs("a-1", "b-1", n_boot=100).result
    tests = result["tests"]
    assert tests["delong"] == {"metric": "roc_auc", **delong(Y, noise(), good())}
    assert tests["delong"]["auc_b"] == 1.0 and tests["delong"]["p"] < 0.001
    right_a, right_b = (noise() >= 0.5) == Y, (good() >= 0.5) == Y
    assert tests["mcnemar"] == {"metric": "accuracy", **mcnemar(right_a, right_b)}
    assert tests["mcnemar"]["method"] == "chi-square with continuity correction"
    _, _, rows, caption = summary(result)
    delong_row, mcnemar_row = rows[-2], rows[-1]
    assert delong_row[0] == "roc_auc, DeLong" and delong_row[-1] == "B (b-1)"
    assert mcnemar_row[0] == "accuracy, McNemar" and mcnemar_row[-1] == "B (b-1)"
    assert "DeLong" in caption and "McNemar" in caption


def test_a_comparison_written_before_the_classic_tests_still_shows(runs_dir):
    fake_run(runs_dir, "a-1", noise())
    fake_run(runs_dir, "b-1", good())
    result = compare_runs("a-1", "b-1", n_boot=50).result
    del result["tests"]
    _, _, rows, _ = summary(result)
    assert rows[-1][0] != "accuracy, McNemar"
