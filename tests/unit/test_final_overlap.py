"""The finishing work: the baselines are fitted and applied while the model predicts, and
the kept model is not loaded again."""

from __future__ import annotations

import threading
import warnings

import pytest

from dltrain.evaluation import final


@pytest.fixture
def calls(monkeypatch):
    """Which thread ran what (the model's predictions, the baselines, a model load)."""
    seen: dict[str, int] = {}
    both = threading.Barrier(2, timeout=5)  # each side waits for the other: side by side

    def split_scores(model, session, name):
        seen[f"predict {name}"] = threading.get_ident()
        if name == "val":
            both.wait()
        return f"{model}:{name}"

    def baseline_scores(session, splits):
        seen["baselines"] = threading.get_ident()
        both.wait()
        with warnings.catch_warnings():  # as scikit-learn's fits do
            warnings.simplefilter("ignore")
            return [("majority", splits)]

    def load_model(path):
        seen["load"] = threading.get_ident()
        return "loaded"

    monkeypatch.setattr(final, "split_scores", split_scores)
    monkeypatch.setattr(final, "baseline_scores", baseline_scores)
    monkeypatch.setattr(final, "load_model", load_model)
    return seen


def test_the_baselines_run_beside_the_models_predictions(calls, tmp_path):
    before = list(warnings.filters)
    out = final._predicted(tmp_path, None, "kept")
    assert out == ("kept", "kept:val", "kept:test", [("majority", ("val", "test"))])
    assert "load" not in calls  # the kept model, not model.keras again
    main = threading.get_ident()
    assert calls["predict val"] == calls["predict test"] == main
    assert calls["baselines"] != main
    assert warnings.filters == before


def test_without_a_kept_model_model_keras_is_loaded(calls, tmp_path):
    assert final._predicted(tmp_path, None, None)[:2] == ("loaded", "loaded:val")
    assert calls["load"] == threading.get_ident()


def test_an_error_of_the_baselines_reaches_the_caller(calls, tmp_path, monkeypatch):
    def broken(session, splits):
        raise ValueError("no baseline")

    monkeypatch.setattr(final, "baseline_scores", broken)
    monkeypatch.setattr(final, "split_scores", lambda model, session, name: name)
    with pytest.raises(ValueError, match="no baseline"):
        final._predicted(tmp_path, None, "kept")
