"""Task metrics: accuracy, F1 and ROC AUC; or RMSE, MAE and R2."""

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from .tasks import Task

METRIC_NAMES: Mapping[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
}


def regression_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> dict[str, float]:
    """Root mean squared error, mean absolute error and R2."""
    return {
        "rmse": float(root_mean_squared_error(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def classification_metrics(
    y_true: npt.ArrayLike, probabilities: npt.NDArray[np.float64], classes: npt.ArrayLike
) -> dict[str, float]:
    """Accuracy, F1 and ROC AUC from class probabilities (columns ordered as ``classes``).

    Binary targets use the second class as positive; more classes use macro F1 and
    one-vs-rest ROC AUC. ROC AUC is NaN when the scored set holds a single class.
    """
    labels = np.asarray(classes)
    truth = np.asarray(y_true)
    predicted = labels[np.argmax(probabilities, axis=1)]
    if labels.size == 2:
        f1 = f1_score(truth, predicted, average="binary", pos_label=labels[1])
    else:
        f1 = f1_score(truth, predicted, average="macro")
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1": float(f1),
        "roc_auc": _roc_auc(truth, probabilities, labels),
    }


def _roc_auc(
    truth: npt.NDArray[np.generic],
    probabilities: npt.NDArray[np.float64],
    labels: npt.NDArray[np.generic],
) -> float:
    if np.unique(truth).size < 2:
        return float("nan")
    if labels.size == 2:
        return float(roc_auc_score(truth == labels[1], probabilities[:, 1]))
    return float(roc_auc_score(truth, probabilities, multi_class="ovr", labels=labels))
