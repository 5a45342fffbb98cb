"""The simple models every deep model is held against, fitted by scikit-learn.

The strong simple baseline a reviewer would ask for, per data kind and task: the data kind
decides the features and which baselines apply (`KIND_BASELINES`), the task decides the
estimator (`dltrain.tasks.Task.baseline`: a logistic or ridge regression, gradient boosting,
1-nearest-neighbour, the priors or the mean, a PCA for an autoencoder).

- tabular: the encoded features → the trivial model, a regularised logistic (ridge)
  regression, histogram gradient boosting;
- text: TF-IDF of word 1- and 2-grams of the token ids (the training vocabulary, as the
  network sees the text) → the trivial model, a regularised logistic (ridge) regression;
- signals: the raw series flattened → the trivial model and a regularised logistic (ridge)
  regression; each series z-normalised per channel → 1-nearest-neighbour (Euclidean), the
  classic time-series baseline;
- images and volumes: the pixels (voxels) → the trivial model and a regularised logistic
  (ridge) regression.

Every baseline is fitted on the training sample (`cache.sample_size`: at most 5000 samples,
which also bounds the memory and time of 1-nearest-neighbour), tuned on the validation
sample only (the regularisation by the task's headline metric; the boosting's early stop by
the validation loss), and scored like the model: on validation by the sanity suite, once
on test after training.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dltrain import tasks

KIND_BASELINES: dict[str, tuple[tuple[str, str], ...]] = {
    "tabular": (("trivial", "flat"), ("linear", "flat"), ("boosting", "flat")),
    "text": (("trivial", "flat"), ("linear", "tfidf")),
    "signals": (("trivial", "flat"), ("linear", "flat"), ("neighbour", "znorm")),
    "images": (("trivial", "flat"), ("linear", "flat")),
    "volumes": (("trivial", "flat"), ("linear", "flat")),
}
"""data kind → (baseline family, features) pairs, in the order they are reported."""


@dataclass(frozen=True)
class Fitted:
    """A fitted baseline: `scores(raw_x)` gives its scores in the units the metrics use."""

    name: str
    family: str
    features: str
    tuned: dict = field(default_factory=dict)
    scores: Callable[[np.ndarray], np.ndarray] = lambda x: x


def fit_baselines(task: str, kind: str, transform, samples, n_classes: int, feed, seed: int):
    """Every baseline of `kind` and `task`, fitted on train and tuned on validation.

    Args:
        task: the task the model is fitted to.
        kind: the data kind (`data.kind`).
        transform: the fitted preprocessing (standardised targets).
        samples: (train, val): cache splits (stored x and y) of the training and the
            validation sample.
        n_classes: classes of the task (2 for binary).
        feed: the session's feeder (reconstruction targets).
        seed: the random state.

    Returns:
        name → `Fitted`, in the order of `KIND_BASELINES`; a baseline scikit-learn cannot
        fit on these data (e.g. a label with one class in the training sample) is left out.
    """
    the_task = tasks.get(task)
    train, val = samples
    y_train = target_values(train, task, transform, feed)
    y_val = target_values(val, task, transform, feed)
    out: dict[str, Fitted] = {}
    for family, features in KIND_BASELINES.get(kind, KIND_BASELINES["tabular"]):
        made = the_task.baseline(family, seed, sparse=features == "tfidf")
        if made is None:
            continue
        view = FEATURES[features]().fit(train.x)
        x_train, x_val = view(train.x), view(val.x)
        if the_task.reconstructs:  # fitted to the normalised inputs it reproduces
            x_train, x_val = y_train, y_val
        name, model, grid = made
        fit = _Fit(the_task, model, feed, n_classes, view)
        with warnings.catch_warnings(), _one_thread():
            warnings.simplefilter("ignore")
            try:
                tuned = fit.tuned(family, grid, (x_train, y_train), (x_val, y_val), val)
            except ValueError:
                continue  # e.g. one class of a label in the sample: nothing to fit
        out[name] = Fitted(name, family, features, tuned, fit.scores)
    return out


@dataclass
class _Fit:
    """One baseline's model, fitted and scored."""

    task: tasks.Task
    model: object
    feed: object
    n_classes: int
    view: object

    def tuned(self, family: str, grid, train, val, val_split) -> dict:
        """Fits the model; with a grid, each value on train, the best on validation kept."""
        (x, y), (x_val, y_val) = train, val
        if family == "boosting":
            self.model.fit(x, y, X_val=x_val, y_val=y_val)
            return {"iterations": _iterations(self.model)}
        _fit_size(self.model, x)
        if not grid:
            self.model.fit(x, y)
            return {}
        ((parameter, values),) = grid.items()
        best, chosen = None, values[0]
        for value in values:  # ties keep the stronger regularisation (listed first for C)
            self.model.set_params(**{parameter: value})
            self.model.fit(x, y)
            score = _headline(self.task, y_val, self.scores(val_split.x), self.n_classes)
            if score is not None and (best is None or tasks_better(self.task, score, best)):
                best, chosen = score, value
        self.model.set_params(**{parameter: chosen})
        self.model.fit(x, y)
        return {parameter.rsplit("__", 1)[-1]: chosen}

    def scores(self, raw: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings(), _one_thread():
            warnings.simplefilter("ignore")
            out = self.task.baseline_scores(self.model, self.view(raw), raw, self.feed)
        return _all_classes(self.task, self.model, out, self.n_classes)


def _one_thread():
    """BLAS and OpenMP on one thread while baselines fit and score: their matrices are small
    (at most 5000 samples), and in a process where TensorFlow's threads are busy a
    multi-threaded BLAS is oversubscribed (a logistic regression of 84 × 2688 took 3 s
    instead of 0.04 s on 2 shared cores; the bundled shoulder example's tuned logistic
    regression 80 s instead of 0.6 s). threadpoolctl comes with scikit-learn."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def tasks_better(task: tasks.Task, a: float, b: float) -> bool:
    from dltrain.config.evaluate import better

    return better(task.headline, a, b)


def _headline(task: tasks.Task, y, scores, n_classes: int) -> float | None:
    from dltrain.evaluation import metrics as M

    fn = M.metric_functions(task.name, n_classes, 0.5)[task.headline]
    try:
        value = float(fn(y, scores))
    except ValueError:
        return None
    return None if np.isnan(value) else value


def _iterations(model) -> int | list[int]:
    if isinstance(model, PerLabel):
        return [int(m.n_iter_) for m in model.models]
    return int(model.n_iter_)


def _fit_size(model, x) -> None:
    """A PCA keeps at most as many components as the sample allows."""
    from sklearn.decomposition import PCA

    if isinstance(model, PCA):
        model.set_params(n_components=int(min(model.n_components, x.shape[1], len(x) - 1)))


def _all_classes(task: tasks.Task, model, scores: np.ndarray, n_classes: int) -> np.ndarray:
    """Multiclass probabilities with a column for every class, also for classes the training
    sample lacked (probability 0)."""
    if task.name != "multiclass" or scores.shape[1] == n_classes:
        return scores
    full = np.zeros((len(scores), n_classes))
    full[:, np.asarray(model.classes_, dtype="int64")] = scores
    return full


class PerLabel:
    """One classifier per label (multilabel gradient boosting), each early-stopped on its
    label of the validation split; `predict_proba` as `MultiOutputClassifier`'s."""

    def __init__(self, model):
        self.model = model
        self.models: list = []

    def fit(self, x, y, X_val=None, y_val=None):  # noqa: N803 (scikit-learn's names)
        from sklearn.base import clone

        self.models = [
            clone(self.model).fit(x, y[:, k], X_val=X_val, y_val=y_val[:, k])
            for k in range(y.shape[1])
        ]
        return self

    def predict_proba(self, x):
        return [m.predict_proba(x) for m in self.models]


# --- features: what each data kind's baselines see --------------------------------------


class _Flat:
    """The inputs as stored, one row per sample (encoded features, pixels, raw series)."""

    def fit(self, x):
        return self

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype="float32").reshape(len(x), -1)


class _ZNormalised(_Flat):
    """Each series z-normalised per channel over time (constant channels left at 0), then
    flattened: the input of the classic 1-nearest-neighbour (Euclidean) baseline."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype="float32")
        series = x if x.ndim == 3 else x.reshape(len(x), -1, 1)
        mean = series.mean(axis=1, keepdims=True)
        std = series.std(axis=1, keepdims=True)
        z = (series - mean) / np.where(std > 0, std, 1.0)
        return z.reshape(len(x), -1)


class _TfIdf:
    """TF-IDF (scikit-learn's defaults: smoothed idf, unit-length rows) of word 1- and
    2-grams, fitted on the training texts; the words are the token ids of the training
    vocabulary (padding dropped; unknown words are the one id 1)."""

    def __init__(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False, dtype=np.float32
        )

    def fit(self, x):
        self.vectorizer.fit(_words(x))
        return self

    def __call__(self, x: np.ndarray):
        return self.vectorizer.transform(_words(x))


def _words(ids: np.ndarray) -> list[str]:
    return [" ".join(str(t) for t in row if t > 0) for row in np.asarray(ids)]


FEATURES = {"flat": _Flat, "znorm": _ZNormalised, "tfidf": _TfIdf}


def target_values(split, task: str, transform, feed):
    """Targets for the baselines, in the units metrics are reported in."""
    the_task = tasks.get(task)
    if the_task.standardised:
        return transform.target_values(split.y)
    if the_task.reconstructs:
        x = split.x.astype("float32")
        return feed.eval_batch(x, split.y)[1].reshape(len(x), -1)
    return split.y
