"""Score a fitted pipeline on prepared features with the task's metrics."""

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .metrics import classification_metrics, regression_metrics
from .tasks import Task


def score_model(
    model: Pipeline, features: pd.DataFrame, target: pd.Series, task: Task
) -> dict[str, float]:
    """Metrics of ``model`` on ``features`` against ``target``."""
    if task == "regression":
        return regression_metrics(target.to_numpy(), np.asarray(model.predict(features)))
    probabilities = np.asarray(model.predict_proba(features), dtype="float64")
    return classification_metrics(target.to_numpy(), probabilities, model.classes_)
