"""Task metrics on a held-out set."""

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.pipeline import Pipeline

from .data import Dataset
from .tasks import Task


def evaluate(model: Pipeline, dataset: Dataset, task: Task) -> dict[str, float]:
    """Return accuracy, F1 and ROC AUC (classification) or RMSE, MAE and R2 (regression)."""
    y_true = dataset.target.to_numpy()
    y_pred = np.asarray(model.predict(dataset.features))
    if task == "regression":
        return {
            "rmse": float(root_mean_squared_error(y_true, y_pred)),
            "mae": float(mean_absolute_error(y_true, y_pred)),
            "r2": float(r2_score(y_true, y_pred)),
        }
    probabilities = np.asarray(model.predict_proba(dataset.features))
    binary = probabilities.shape[1] == 2
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, average="binary" if binary else "macro")),
        "roc_auc": float(
            roc_auc_score(y_true, probabilities[:, 1])
            if binary
            else roc_auc_score(y_true, probabilities, multi_class="ovr")
        ),
    }
