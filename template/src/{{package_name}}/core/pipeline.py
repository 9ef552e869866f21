"""The scikit-learn pipeline a config asks for, and the prediction columns it yields.

The pipeline has numeric and categorical branches, then the named estimator. Predictions
are the predicted value, plus one probability per class for classification.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .metrics import Task
from .schema import FeatureSchema

PREDICTION_COLUMN = "prediction"
PROBABILITY_PREFIX = "probability_"


def build_pipeline(schema: FeatureSchema, estimator: BaseEstimator) -> Pipeline:
    """An unfitted pipeline for ``schema``'s columns ending in ``estimator``.

    Numbers are median-imputed and standardised; categories are imputed with the most
    frequent value and one-hot encoded (dense, so every estimator accepts them; unseen
    categories encode as all zeros).
    """
    branches = []
    if schema.numeric:
        numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        branches.append(("numeric", numeric, schema.numeric))
    if schema.categorical:
        categorical = make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        branches.append(("categorical", categorical, schema.categorical))
    preprocess = ColumnTransformer(branches, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])


def predict_frame(
    model: Pipeline | BaseEstimator, features: pd.DataFrame, task: Task
) -> pd.DataFrame:
    """Predict prepared ``features`` with a fitted pipeline; the result shares their index.

    Regression yields ``prediction``; classification yields the most probable class as
    ``prediction`` and ``probability_<class>`` for every class, from one
    ``predict_proba`` pass.
    """
    return _predict(model, features, features.index, task)


def predict_in_range(
    model: Pipeline, features: pd.DataFrame, task: Task
) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """Predict the rows of prepared ``features`` the model can score; list the others.

    The rows :func:`score_in_range` leaves out are listed by position under the name of the
    preprocessed column to blame.
    """
    preprocess, estimator = model[:-1], model[-1]
    with np.errstate(all="ignore"):
        transformed = np.asarray(preprocess.transform(features), dtype="float64")
    scored = score_in_range(estimator, transformed, task)
    index = features.index.delete(scored.unscorable)
    predictions = _frame(scored.predictions, scored.probabilities, estimator, index)
    unscorable: dict[str, list[int]] = defaultdict(list)
    if len(scored.unscorable):
        names = preprocess.get_feature_names_out()
        for position, column in zip(scored.unscorable, scored.blamed, strict=True):
            unscorable[str(names[column])].append(int(position))
    return predictions, dict(unscorable)


@dataclass(frozen=True)
class Scored:
    """What an estimator says about the preprocessed rows it can score, and which it cannot."""

    #: One prediction per scorable row.
    predictions: npt.NDArray[Any]
    #: Classification: one probability per scorable row and class (``classes_`` order).
    probabilities: npt.NDArray[np.float64] | None
    #: Positions of the rows that cannot be scored.
    unscorable: npt.NDArray[np.intp]
    #: For each unscorable row, the preprocessed column to blame.
    blamed: npt.NDArray[np.intp]


#: Preprocessed rows -> predictions and, for classification, class probabilities.
Outputs = Callable[
    [npt.NDArray[np.float64]], tuple[npt.NDArray[Any], npt.NDArray[np.float64] | None]
]


def score_in_range(
    estimator: BaseEstimator,
    transformed: npt.NDArray[np.float64],
    task: Task,
    outputs: Outputs | None = None,
) -> Scored:
    """Predict preprocessed rows with a fitted ``estimator``, leaving out those it cannot score.

    A row cannot be scored when one of its values lies so far outside the training range
    that its preprocessed features leave the float32 range (tree models compute in float32)
    or the model's outputs overflow (e.g. ``1e307`` in a feature of small spread). The column
    to blame is the one whose preprocessed value is largest. Classification predicts the most
    probable class, from one ``predict_proba`` pass. ``outputs`` computes exactly what
    :func:`model_outputs` does, only faster (the server's ``compile_outputs``).
    """
    with np.errstate(all="ignore"):
        largest = np.finfo(np.float32).max
        scorable = np.array((np.abs(transformed) <= largest).all(axis=1), dtype=bool)
        rows = transformed if scorable.all() else transformed[scorable]
        if outputs is None or not len(rows):
            predictions, probabilities = model_outputs(estimator, rows, task)
        else:
            predictions, probabilities = outputs(rows)
        checked = predictions if probabilities is None else probabilities
        finite = np.isfinite(checked)
        finite = finite if finite.ndim == 1 else finite.all(axis=1)
    if not finite.all():
        scorable[np.flatnonzero(scorable)[~finite]] = False
        predictions = predictions[finite]
        probabilities = None if probabilities is None else probabilities[finite]
    positions = np.flatnonzero(~scorable)
    if not len(positions):
        return Scored(predictions, probabilities, positions, positions)
    spread = np.nan_to_num(np.abs(transformed[positions]), nan=np.inf)
    return Scored(predictions, probabilities, positions, np.argmax(spread, axis=1))


def model_outputs(
    estimator: Pipeline | BaseEstimator,
    features: pd.DataFrame | npt.NDArray[np.float64],
    task: Task,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64] | None]:
    """Predictions and, for classification, class probabilities (none for zero rows)."""
    if task == "regression":
        if not len(features):
            return np.empty(0), None
        return np.asarray(estimator.predict(features), dtype="float64"), None
    classes = np.asarray(estimator.classes_)
    if not len(features):
        return classes[:0], np.empty((0, len(classes)))
    probabilities = np.asarray(estimator.predict_proba(features), dtype="float64")
    return classes[np.argmax(probabilities, axis=1)], probabilities


def _predict(
    model: Pipeline | BaseEstimator,
    features: pd.DataFrame | npt.NDArray[np.float64],
    index: pd.Index,
    task: Task,
) -> pd.DataFrame:
    predictions, probabilities = model_outputs(model, features, task)
    return _frame(predictions, probabilities, model, index)


def _frame(
    predictions: npt.NDArray[Any],
    probabilities: npt.NDArray[np.float64] | None,
    model: Pipeline | BaseEstimator,
    index: pd.Index,
) -> pd.DataFrame:
    """The prediction columns: ``prediction``, then ``probability_<class>`` per class."""
    columns = {PREDICTION_COLUMN: predictions}
    if probabilities is not None:
        for position, label in enumerate(model.classes_):
            columns[f"{PROBABILITY_PREFIX}{label}"] = probabilities[:, position]
    return pd.DataFrame(columns, index=index)
