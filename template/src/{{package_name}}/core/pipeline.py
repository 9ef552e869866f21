"""The scikit-learn pipeline a config asks for, and the prediction columns it yields.

The pipeline has numeric and categorical branches, then the named estimator. Predictions
are the predicted value, plus one probability per class for classification.
"""

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .config import ESTIMATORS, EstimatorName, Task
from .schema import FeatureSchema

PREDICTION_COLUMN = "prediction"
PROBABILITY_PREFIX = "probability_"


def build_estimator(
    task: Task, name: EstimatorName, params: Mapping[str, Any], *, seed: int
) -> BaseEstimator:
    """An unfitted estimator: its defaults, then ``params``, seeded with ``seed``."""
    spec = ESTIMATORS[name]
    if task not in spec.factories:
        raise ValueError(f"estimator {name!r} does not support task {task!r}")
    return spec.factories[task](**{**spec.defaults, "random_state": seed, **params})


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

    A row cannot be scored when one of its values lies so far outside the training range
    that its preprocessed features leave the float32 range (tree models compute in float32)
    or the model's outputs overflow (e.g. ``1e307`` in a feature of small spread). Such rows
    are left out of the predictions and listed by position under the column to blame: the
    one whose preprocessed value is largest.
    """
    preprocess, estimator = model[:-1], model[-1]
    with np.errstate(all="ignore"):
        transformed = np.asarray(preprocess.transform(features), dtype="float64")
        scorable = (np.abs(transformed) <= np.finfo(np.float32).max).all(axis=1)
        rows = transformed if scorable.all() else transformed[scorable]
        predictions = pd.DataFrame(index=features.index[:0])
        if len(rows):
            predictions = _predict(estimator, rows, features.index[scorable], task)
            finite = np.isfinite(predictions.select_dtypes("number").to_numpy()).all(axis=1)
            scorable[np.flatnonzero(scorable)[~finite]] = False
            predictions = predictions[finite]
    unscorable: dict[str, list[int]] = defaultdict(list)
    if not scorable.all():
        names = preprocess.get_feature_names_out()
        positions = np.flatnonzero(~scorable)
        spread = np.nan_to_num(np.abs(transformed[positions]), nan=np.inf)
        for position, column in zip(positions, np.argmax(spread, axis=1), strict=True):
            unscorable[str(names[column])].append(int(position))
    return predictions, dict(unscorable)


def _predict(
    model: Pipeline | BaseEstimator,
    features: pd.DataFrame | npt.NDArray[np.float64],
    index: pd.Index,
    task: Task,
) -> pd.DataFrame:
    if task == "regression":
        values = np.asarray(model.predict(features), dtype="float64")
        return pd.DataFrame({PREDICTION_COLUMN: values}, index=index)
    probabilities = np.asarray(model.predict_proba(features), dtype="float64")
    classes = np.asarray(model.classes_)
    columns = {PREDICTION_COLUMN: classes[np.argmax(probabilities, axis=1)]}
    for position, label in enumerate(classes):
        columns[f"{PROBABILITY_PREFIX}{label}"] = probabilities[:, position]
    return pd.DataFrame(columns, index=index)
