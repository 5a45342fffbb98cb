"""The baselines: per data kind the features, per task the estimator, tuned on validation."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn import metrics as skm

from dltrain.evaluation.baselines import KIND_BASELINES, fit_baselines
from dltrain.tasks import REGULARISATION

IDENTITY = SimpleNamespace(target_values=lambda y: y)


def _split(x, y):
    return SimpleNamespace(x=np.asarray(x), y=np.asarray(y))


def _table(n, seed, task="binary"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    signal = x[:, 0] + x[:, 1] ** 2
    if task == "binary":
        return _split(x, (signal + 0.5 * rng.normal(size=n) > 1).astype("int64"))
    if task == "multilabel":
        return _split(x, np.stack([x[:, 0] > 0, x[:, 1] > 0], axis=1).astype("float32"))
    return _split(x, signal + 0.1 * rng.normal(size=n))


def _fit(task, kind, train, val, n_classes=2, feed=None):
    return fit_baselines(task, kind, IDENTITY, (train, val), n_classes, feed, seed=0)


def test_tabular_gets_a_tuned_logistic_and_early_stopped_boosting():
    train, val, test = _table(300, 0), _table(150, 1), _table(150, 2)
    fitted = _fit("binary", "tabular", train, val)
    assert list(fitted) == ["majority", "logistic", "gradient_boosting"]
    assert fitted["logistic"].tuned["C"] in REGULARISATION
    assert fitted["gradient_boosting"].tuned["iterations"] < 500  # stopped on validation
    auc = {n: skm.roc_auc_score(test.y, f.scores(test.x)) for n, f in fitted.items()}
    assert auc["majority"] == 0.5 and auc["gradient_boosting"] > 0.8  # x1² is not linear


def test_the_regularisation_is_chosen_on_validation_only():
    """The chosen C is the grid value with the best validation ROC-AUC of a logistic
    regression fitted on train (first of ties): nothing else is looked at."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, val = _table(60, 3), _table(60, 4)
    fitted = _fit("binary", "tabular", train, val)
    aucs = []
    for c in REGULARISATION:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        model.fit(train.x, train.y)
        aucs.append(skm.roc_auc_score(val.y, model.predict_proba(val.x)[:, 1]))
    assert fitted["logistic"].tuned["C"] == REGULARISATION[int(np.argmax(aucs))]


def test_text_gets_tfidf_of_word_bigrams():
    """The label is the order of two words: their counts are equal in both classes, so only
    the 2-grams of the TF-IDF baseline can tell them apart."""
    rng = np.random.default_rng(0)

    def texts(n):
        y = rng.integers(0, 2, n)
        ids = rng.integers(7, 40, size=(n, 8))
        ids[:, 2:4] = np.where(y[:, None] == 1, [5, 6], [6, 5])
        ids[:, 6:] = 0  # padding
        return _split(ids.astype("int32"), y)

    train, val, test = texts(200), texts(100), texts(100)
    fitted = _fit("binary", "text", train, val)
    assert list(fitted) == ["majority", "tfidf_logistic"]
    assert fitted["tfidf_logistic"].features == "tfidf"
    assert skm.roc_auc_score(test.y, fitted["tfidf_logistic"].scores(test.x)) > 0.99


def test_signals_get_one_nearest_neighbour_on_z_normalised_series():
    """Sines against square waves at random amplitudes and offsets: the shape is the class,
    which 1-NN sees once every series is z-normalised."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 4 * np.pi, 64)

    def series(n):
        y = rng.integers(0, 2, n)
        wave = np.where(y[:, None] == 1, np.sign(np.sin(t)), np.sin(t))
        scale, offset = rng.uniform(0.1, 10, (n, 1)), rng.uniform(-50, 50, (n, 1))
        return _split((wave * scale + offset)[:, :, None].astype("float32"), y)

    train, val, test = series(60), series(30), series(40)
    fitted = _fit("binary", "signals", train, val)
    assert list(fitted) == ["majority", "logistic", "nearest_neighbour"]
    nn = fitted["nearest_neighbour"]
    assert nn.features == "znorm"
    assert ((nn.scores(test.x) >= 0.5) == test.y).all()


def test_regression_gets_ridge_and_boosting():
    fitted = _fit("regression", "tabular", _table(200, 0, "r"), _table(100, 1, "r"))
    assert list(fitted) == ["mean", "ridge", "gradient_boosting"]
    assert fitted["ridge"].tuned["alpha"] in REGULARISATION


def test_multilabel_boosting_stops_each_label_on_validation():
    fitted = _fit(
        "multilabel", "tabular", _table(200, 0, "multilabel"), _table(100, 1, "multilabel")
    )
    assert list(fitted) == ["prior", "logistic", "gradient_boosting"]
    assert len(fitted["gradient_boosting"].tuned["iterations"]) == 2
    assert fitted["logistic"].scores(_table(10, 2, "multilabel").x).shape == (10, 2)


def test_images_get_pixels_and_every_class_a_column():
    """A class absent from the training sample still gets its (zero) probability column."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(60, 4, 4, 1)).astype("uint8")
    y = rng.integers(0, 2, 60)  # classes 0 and 1 only; the task has 3
    fitted = _fit("multiclass", "images", _split(x, y), _split(x[:20], y[:20]), n_classes=3)
    assert (
        list(fitted)
        == ["majority", "logistic"]
        == [fitted[n].name for n in ("majority", "logistic")]
    )
    scores = fitted["logistic"].scores(x[:5])
    assert scores.shape == (5, 3) and np.allclose(scores[:, 2], 0)


def test_reconstruction_gets_the_mean_and_a_pca_of_the_normalised_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6, 1)).astype("float32") * 5 + 3
    feed = SimpleNamespace(eval_batch=lambda x, y: (x, (x - 3) / 5))
    split = _split(x, np.zeros(50))
    fitted = _fit("reconstruction", "signals", split, split, feed=feed)
    assert list(fitted) == ["mean", "pca"]
    errors = fitted["pca"].scores(x)
    assert errors.shape == (50,) and errors.max() < 1e-6  # 6 features, 6 components kept


@pytest.mark.parametrize("kind", list(KIND_BASELINES))
def test_every_kind_has_the_trivial_and_a_linear_baseline(kind):
    families = [family for family, _ in KIND_BASELINES[kind]]
    assert families[:2] == ["trivial", "linear"]
