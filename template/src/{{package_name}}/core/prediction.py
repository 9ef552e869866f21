"""Prediction columns: the predicted value, plus one probability per class."""

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .tasks import Task

PREDICTION_COLUMN = "prediction"
PROBABILITY_PREFIX = "probability_"


def predict_frame(model: Pipeline, features: pd.DataFrame, task: Task) -> pd.DataFrame:
    """Predict prepared ``features``; the result shares their index.

    Regression yields ``prediction``; classification yields the most probable class as
    ``prediction`` and ``probability_<class>`` for every class, from one
    ``predict_proba`` pass.
    """
    if task == "regression":
        values = np.asarray(model.predict(features), dtype="float64")
        return pd.DataFrame({PREDICTION_COLUMN: values}, index=features.index)
    probabilities = np.asarray(model.predict_proba(features), dtype="float64")
    classes = np.asarray(model.classes_)
    columns = {PREDICTION_COLUMN: classes[np.argmax(probabilities, axis=1)]}
    for position, label in enumerate(classes):
        columns[f"{PROBABILITY_PREFIX}{label}"] = probabilities[:, position]
    return pd.DataFrame(columns, index=features.index)
