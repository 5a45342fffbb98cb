"""The tasks as one table: what each one means for the model, its metrics and its predictions.

A task is binary, multiclass, multilabel, regression, or reconstruction (an autoencoder).
Everything that differs between them is here, on one `Task` object per task: the loss and
output head, the per-epoch metrics (what early stopping may watch), the reported metrics
and the headline one, how scores become decisions, how the target is stored and fed, the
columns of a predictions file and how to read them back, and what the export says the
output means. Code elsewhere asks the task (`tasks.get(name).exclusive`, `.decisions(...)`)
instead of comparing task names. Adding a task is one class here, its metrics in
`dltrain.evaluation.metrics` and its baselines in `dltrain.evaluation.baselines`.

Importing this module imports NumPy only; Keras and pandas are imported by the methods
that need them.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from dltrain.config.evaluate import HEADLINE, TASK_METRICS

COMPILED_HIGHER_IS_BETTER = frozenset({"auc", "accuracy"})
"""The per-epoch (Keras) metrics where higher is better; the others (loss, mae, rmse) fall."""


class Task:
    """What one task means everywhere; subclasses fill in the differences."""

    name: ClassVar[str]
    loss: ClassVar[str]
    activation: ClassVar[str] = "linear"
    compiled: ClassVar[tuple[str, ...]]
    """Metrics Keras computes every epoch; `val_<name>` (and val_loss) can be monitored."""
    exclusive: ClassVar[bool] = False
    """One class per sample (binary, multiclass): class priors, class weights, per-class
    metrics, a confusion matrix and ROC/PR/calibration plots apply."""
    thresholded: ClassVar[bool] = False
    """A decision threshold on a probability, frozen and written with predictions."""
    chooses_threshold: ClassVar[bool] = False
    """The threshold is chosen on validation by `evaluate.threshold` (binary)."""
    standardised: ClassVar[bool] = False
    """The target is stored standardised (train mean and std) and reported in its units."""
    reconstructs: ClassVar[bool] = False
    """The model reproduces its input; its score is the reconstruction error."""
    has_classes: ClassVar[bool] = True
    y_dtype: ClassVar[str] = "int32"

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics reported on validation and test (`evaluate.metrics` choices)."""
        return TASK_METRICS[self.name]

    @property
    def headline(self) -> str:
        """The metric runs are listed by and held against the baselines with."""
        return HEADLINE[self.name]

    def y_shape(self, x_shape: tuple[int, ...], n_classes: int) -> tuple[int, ...]:
        """Shape of one sample's training target."""
        return ()

    def output_spec(self, y_train: np.ndarray | None, n_classes: int):
        """The output layer: units, activation, and a bias set to the training priors."""
        from dltrain.models.specs import OutputSpec

        return OutputSpec(self.name, 1, (0.0,))

    def keras_metrics(self) -> list:
        """The Keras metric objects compiled into the model (named as in `compiled`)."""
        raise NotImplementedError

    def decisions(self, scores: np.ndarray, threshold: float) -> np.ndarray:
        """Predicted class index per sample (a 0/1 matrix for multilabel)."""
        raise ValueError(f"a {self.name} task makes no class decisions")

    def expected_initial_loss(self, y: np.ndarray, n_classes: int) -> tuple[float, str]:
        """The loss a well-initialised model starts at, and how it is derived (sanity suite)."""
        return 1.0, "the variance of the standardised target"

    def baseline(self, family: str, seed: int, sparse: bool = False):
        """The unfitted scikit-learn baseline of `family` for this task, or None where the
        family does not apply; `dltrain.evaluation.baselines` decides which families a data
        kind gets and on which features.

        Args:
            family: "trivial" (class priors or the mean), "linear" (a regularised logistic
                or ridge regression), "boosting" (histogram gradient boosting, early-stopped
                on validation) or "neighbour" (1-nearest-neighbour, Euclidean).
            seed: the random state of models that have one.
            sparse: the features are a sparse TF-IDF matrix (not scaled). Defaults to False.

        Returns:
            (name, model, grid): `grid` maps a parameter of `model` to the values tried on
            validation (None: nothing is tuned but, for boosting, the early stop).
        """
        return None

    def baseline_scores(self, model, flat, raw, feed) -> np.ndarray:
        """A fitted baseline's scores, in the units the metrics use."""
        return model.predict(flat)

    def prediction_columns(self, table, y_true, scores, classes, threshold) -> None:
        """Adds the truth (if known), the prediction and the scores to a predictions table."""
        raise NotImplementedError

    def read_predictions(self, table, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(truth, scores) back from a predictions table written by `prediction_columns`.

        Raises:
            ValueError: a true label that is not one of `classes`.
        """
        raise NotImplementedError

    def needed_columns(self, classes: list[str]) -> list[str]:
        """The predictions-table columns `read_predictions` needs."""
        return ["true", *(f"prob_{c}" for c in classes)]

    def output_meaning(self, classes: list[str], positive: str | None) -> str:
        """What the exported model's output is, in words (export.json)."""
        raise NotImplementedError


class _Exclusive(Task):
    """Binary and multiclass: one class per sample, probabilities from the output layer."""

    exclusive = True

    def decisions(self, scores, threshold):
        return np.argmax(scores, axis=1)

    def expected_initial_loss(self, y, n_classes):
        prior = np.bincount(y.astype("int64"), minlength=n_classes) / len(y)
        expected = float(-(prior[prior > 0] * np.log(prior[prior > 0])).sum())
        how = (
            f"the entropy of the training labels (−ln(1/{n_classes}) = "
            f"{math.log(n_classes):.3f} if the classes were balanced)"
        )
        return expected, how

    def _priors(self, y_train, n_classes) -> np.ndarray:
        counts = np.bincount(y_train.astype("int64"), minlength=n_classes) + 1.0
        return counts / counts.sum()

    def _probabilities(self, scores: np.ndarray) -> np.ndarray:
        return scores

    def baseline(self, family, seed, sparse=False):
        from sklearn.dummy import DummyClassifier
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.neighbors import KNeighborsClassifier

        if family == "trivial":
            return "majority", DummyClassifier(strategy="prior"), None
        if family == "linear":
            return _logistic("logistic", seed, sparse)
        if family == "boosting":
            return "gradient_boosting", HistGradientBoostingClassifier(**_boosting(seed)), None
        return "nearest_neighbour", KNeighborsClassifier(n_neighbors=1), None

    def baseline_scores(self, model, flat, raw, feed):
        return self._scores_from(model.predict_proba(flat))

    def prediction_columns(self, table, y_true, scores, classes, threshold):
        if y_true is not None:
            table["true"] = np.asarray(classes)[np.asarray(y_true, dtype="int64")]
        table["predicted"] = np.asarray(classes)[self.decisions(scores, threshold)]
        probs = self._probabilities(scores)
        for i, c in enumerate(classes):
            table[f"prob_{c}"] = probs[:, i]

    def read_predictions(self, table, classes):
        index = {c: i for i, c in enumerate(classes)}
        y = table["true"].map(index)
        if y.isna().any():
            raise ValueError(f"true labels that are not classes of the run ({classes})")
        probs = table[[f"prob_{c}" for c in classes]].to_numpy(dtype="float64")
        return y.to_numpy(dtype="int64"), self._scores_from(probs)

    def _scores_from(self, probs: np.ndarray) -> np.ndarray:
        return probs


class Binary(_Exclusive):
    name = "binary"
    loss = "binary_crossentropy"
    activation = "sigmoid"
    compiled = ("auc", "accuracy")
    thresholded = True
    chooses_threshold = True

    def output_spec(self, y_train, n_classes):
        from dltrain.models.specs import OutputSpec

        prior = self._priors(y_train, n_classes)
        return OutputSpec(self.name, 1, (float(math.log(prior[1] / prior[0])),))

    def keras_metrics(self):
        import keras

        return [keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")]

    def decisions(self, scores, threshold):
        return (scores >= threshold).astype("int64")

    def _probabilities(self, scores):
        return np.stack([1 - scores, scores], axis=1)

    def _scores_from(self, probs):
        return probs[:, -1]

    def output_meaning(self, classes, positive):
        return (
            f"(batch, 1): P({positive}); the decision is {positive!r} when P >= threshold "
            "(frozen on validation)"
        )


class Multiclass(_Exclusive):
    name = "multiclass"
    loss = "sparse_categorical_crossentropy"
    activation = "softmax"
    compiled = ("accuracy",)

    def output_spec(self, y_train, n_classes):
        from dltrain.models.specs import OutputSpec

        prior = self._priors(y_train, n_classes)
        return OutputSpec(self.name, n_classes, tuple(float(v) for v in np.log(prior)))

    def keras_metrics(self):
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def output_meaning(self, classes, positive):
        return f"(batch, {len(classes)}): class probabilities in the order of 'classes'; argmax"


class Multilabel(Task):
    name = "multilabel"
    loss = "binary_crossentropy"
    activation = "sigmoid"
    compiled = ("auc",)
    thresholded = True
    y_dtype = "float32"

    def y_shape(self, x_shape, n_classes):
        return (n_classes,)

    def output_spec(self, y_train, n_classes):
        from dltrain.models.specs import OutputSpec

        share = (y_train.sum(axis=0) + 1.0) / (len(y_train) + 2.0)
        return OutputSpec(
            self.name, y_train.shape[1], tuple(float(v) for v in np.log(share / (1 - share)))
        )

    def keras_metrics(self):
        import keras

        return [keras.metrics.AUC(name="auc", multi_label=True)]

    def decisions(self, scores, threshold):
        return (scores >= threshold).astype("int64")

    def baseline(self, family, seed, sparse=False):
        from sklearn.dummy import DummyClassifier
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.multioutput import MultiOutputClassifier
        from sklearn.neighbors import KNeighborsClassifier

        if family == "trivial":
            return "prior", MultiOutputClassifier(DummyClassifier(strategy="prior")), None
        if family == "linear":
            name, model, grid = _logistic("logistic", seed, sparse)
            per_label = {f"estimator__{k}": v for k, v in grid.items()}
            return name, MultiOutputClassifier(model), per_label
        if family == "boosting":
            from dltrain.evaluation.baselines import PerLabel

            return (
                "gradient_boosting",
                PerLabel(HistGradientBoostingClassifier(**_boosting(seed))),
                None,
            )
        return "nearest_neighbour", KNeighborsClassifier(n_neighbors=1), None

    def baseline_scores(self, model, flat, raw, feed):
        return np.stack([p[:, -1] for p in model.predict_proba(flat)], axis=1)

    def expected_initial_loss(self, y, n_classes):
        p = np.clip(y.mean(axis=0), 1e-6, 1 - 1e-6)
        expected = float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))
        return expected, "the mean entropy of the training labels"

    def prediction_columns(self, table, y_true, scores, classes, threshold):
        names = np.asarray(classes)
        if y_true is not None:
            table["true"] = [";".join(names[row > 0.5]) for row in y_true]
        table["predicted"] = [";".join(names[row >= threshold]) for row in scores]
        for i, c in enumerate(classes):
            table[f"prob_{c}"] = scores[:, i]

    def read_predictions(self, table, classes):
        index = {c: i for i, c in enumerate(classes)}
        named = [[v for v in str(cell).split(";") if v] for cell in table["true"]]
        if any(v not in index for labels in named for v in labels):
            raise ValueError(f"true labels that are not classes of the run ({classes})")
        y = np.zeros((len(table), len(classes)), dtype="int64")
        for i, labels in enumerate(named):
            y[i, [index[v] for v in labels]] = 1
        return y, table[[f"prob_{c}" for c in classes]].to_numpy(dtype="float64")

    def output_meaning(self, classes, positive):
        return f"(batch, {len(classes)}): P(label) per label of 'classes'; each >= threshold"


class Regression(Task):
    name = "regression"
    loss = "mean_squared_error"
    compiled = ("mae", "rmse")
    standardised = True
    has_classes = False
    y_dtype = "float32"

    def keras_metrics(self):
        import keras

        return [
            keras.metrics.MeanAbsoluteError(name="mae"),
            keras.metrics.RootMeanSquaredError(name="rmse"),
        ]

    def baseline(self, family, seed, sparse=False):
        from sklearn.dummy import DummyRegressor
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.linear_model import Ridge
        from sklearn.neighbors import KNeighborsRegressor

        if family == "trivial":
            return "mean", DummyRegressor(strategy="mean"), None
        if family == "linear":
            model = _scaled(Ridge(), sparse)
            return (
                ("tfidf_ridge" if sparse else "ridge"),
                model,
                {_last(model, "alpha"): REGULARISATION},
            )
        if family == "boosting":
            return "gradient_boosting", HistGradientBoostingRegressor(**_boosting(seed)), None
        return "nearest_neighbour", KNeighborsRegressor(n_neighbors=1), None

    def prediction_columns(self, table, y_true, scores, classes, threshold):
        if y_true is not None:
            table["true"] = y_true
        table["predicted"] = scores

    def read_predictions(self, table, classes):
        return table["true"].to_numpy(dtype="float64"), table["predicted"].to_numpy("float64")

    def needed_columns(self, classes):
        return ["true", "predicted"]

    def output_meaning(self, classes, positive):
        return "(batch, 1): the standardised value; value = output * target_std + target_mean"


class Reconstruction(Task):
    name = "reconstruction"
    loss = "mean_squared_error"
    compiled = ("mae",)
    reconstructs = True
    has_classes = False
    y_dtype = "float32"

    def y_shape(self, x_shape, n_classes):
        return x_shape

    def keras_metrics(self):
        import keras

        return [keras.metrics.MeanAbsoluteError(name="mae")]

    def baseline(self, family, seed, sparse=False):
        """The training mean, and a PCA (a linear autoencoder) of 16 components at most."""
        from sklearn.decomposition import PCA
        from sklearn.dummy import DummyRegressor

        if family == "trivial":
            return "mean", DummyRegressor(strategy="mean"), None
        if family == "linear":
            return "pca", PCA(PCA_COMPONENTS, random_state=seed), None
        return None

    def baseline_scores(self, model, flat, raw, feed):
        """The per-sample reconstruction error of the normalised input."""
        x = raw.astype("float32")
        target = feed.eval_batch(x, None)[1].reshape(len(x), -1)
        if hasattr(model, "inverse_transform"):
            rebuilt = model.inverse_transform(model.transform(target))
        else:
            rebuilt = model.predict(target)
        return np.mean((rebuilt - target) ** 2, axis=1)

    def prediction_columns(self, table, y_true, scores, classes, threshold):
        if y_true is not None and len(np.unique(y_true)) > 1:
            table["true"] = np.asarray(y_true, dtype="int64")  # the label code: 1 = anomaly
        table["reconstruction_error"] = scores  # the anomaly score: larger is more unusual

    def read_predictions(self, table, classes):
        scores = table["reconstruction_error"].to_numpy(dtype="float64")
        if "true" in table.columns:  # an anomaly label, when the data has one
            return table["true"].to_numpy(dtype="int64"), scores
        return np.zeros(len(table), "int64"), scores

    def needed_columns(self, classes):
        return ["reconstruction_error"]

    def output_meaning(self, classes, positive):
        return (
            "the reconstruction of the normalised input; the anomaly score is the mean squared "
            "difference from (x - mean) / sqrt(variance) (channel statistics in "
            "preprocessing.json)"
        )


REGULARISATION = (0.01, 0.1, 1.0, 10.0, 100.0)
"""The regularisation values a linear baseline tries on validation: the inverse strength C
of a logistic regression, the strength alpha of a ridge regression."""
PCA_COMPONENTS = 16


def _scaled(model, sparse: bool):
    """`model` after a StandardScaler; TF-IDF rows (sparse, unit length) are used as they are."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return model if sparse else make_pipeline(StandardScaler(), model)


def _last(model, parameter: str) -> str:
    """The name of `parameter` of the pipeline's last step (or of the model itself)."""
    steps = getattr(model, "steps", None)
    return f"{steps[-1][0]}__{parameter}" if steps else parameter


def _logistic(name: str, seed: int, sparse: bool):
    from sklearn.linear_model import LogisticRegression

    model = _scaled(LogisticRegression(max_iter=5000, random_state=seed), sparse)
    return ("tfidf_" + name if sparse else name), model, {_last(model, "C"): REGULARISATION}


def _boosting(seed: int) -> dict:
    """Histogram gradient boosting, stopped when the validation loss has not improved for 10
    iterations (the validation split is passed to `fit`, nothing of train is held out)."""
    return {"max_iter": 500, "early_stopping": True, "n_iter_no_change": 10, "random_state": seed}


TASKS: dict[str, Task] = {
    t.name: t for t in (Binary(), Multiclass(), Multilabel(), Regression(), Reconstruction())
}
"""Every task by name; the names are those of `dltrain.config.evaluate.TASK_METRICS`."""


def get(name: str) -> Task:
    """The task called `name`; an unknown name lists the tasks."""
    try:
        return TASKS[name]
    except KeyError:
        raise LookupError(f"unknown task {name!r}; the tasks are: {', '.join(TASKS)}") from None
