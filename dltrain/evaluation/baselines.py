"""The simple models every deep model is held against, fitted by scikit-learn.

Fitted on the training split's inputs (flattened; a bag of words for text) and scored
like the model: on validation by the sanity suite, once on test after training.
"""

from __future__ import annotations

import warnings

import numpy as np

from dltrain import tasks


def fit_baselines(task: str, x_train, y_train, seed: int) -> dict:
    """The task's baselines (`Task.baselines`) fitted on the training inputs (flattened).

    Returns name → predictor(flat_x, raw_x, feed) giving scores in the units the
    metrics use: the majority class (class priors) and a logistic regression; the
    mean and a linear regression; for reconstruction the training mean and a PCA
    (a linear autoencoder), scored by per-sample reconstruction error.
    """
    kind = tasks.get(task)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in kind.baselines(x_train, seed).items():
            model.fit(x_train, y_train)
            out[name] = _predictor(kind, model)
    return out


def _predictor(task, model):
    def predict(flat, raw, feed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return task.baseline_scores(model, flat, raw, feed)

    return predict


def flat_inputs(x: np.ndarray, transform):
    """Inputs as a 2-D matrix for scikit-learn baselines (bag of words for text)."""
    if getattr(transform, "kind", "tabular") == "text":
        from dltrain.kinds.text.vocabulary import bag_of_words

        return bag_of_words(x, len(transform.vocabulary) + 2)
    return np.asarray(x, dtype="float32").reshape(len(x), -1)


def target_values(split, task: str, transform, feed):
    """Training targets for the baselines, in the units metrics are reported in."""
    the_task = tasks.get(task)
    if the_task.standardised:
        return transform.target_values(split.y)
    if the_task.reconstructs:
        x = split.x.astype("float32")
        return feed.eval_batch(x, split.y)[1].reshape(len(x), -1)
    return split.y
