"""Fit the configured pipeline, score it by hold-out or cross-validation, apply the quality gate.

Metrics: accuracy, F1 and ROC AUC for classification; RMSE, MAE and R2 for regression.
A model is published only when every metric is within the bounds of the quality gate.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from .config import Task, Threshold, TrainConfig
from .data import DataError, require_columns
from .pipeline import build_estimator, build_pipeline, predict_frame
from .profile import ReferenceProfile, build_profile
from .schema import FeatureSchema, infer_schema


@dataclass(frozen=True)
class TrainedModel:
    """Scores of a fitted pipeline, with the pipeline, its schema and reference profile."""

    metrics: dict[str, float]
    #: How ``metrics`` were measured, e.g. "5-fold cross-validation" or "hold-out test data".
    evaluation: str
    pipeline: Pipeline
    #: Inferred from the training data; saved with the model and checked on every input.
    schema: FeatureSchema
    profile: ReferenceProfile


def split_target(
    frame: pd.DataFrame, config: TrainConfig, *, source: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Features (configured or all non-excluded columns) and the target of ``frame``."""
    target = config.data.target
    listed = [*(config.features.numeric or []), *(config.features.categorical or [])]
    require_columns(frame, [target, *listed, *config.features.exclude], source=source)
    if config.features.numeric is not None and config.features.categorical is not None:
        names = listed
    else:
        dropped = {target, *config.features.exclude}
        names = [str(name) for name in frame.columns if name not in dropped]
    return frame[names], frame[target]


def check_target(target: pd.Series, task: Task) -> None:
    """Refuse a target with missing values, one class only, or non-numbers for regression."""
    missing = int(target.isna().sum())
    if missing:
        raise DataError(f"target column {target.name!r} has {missing} missing value(s)")
    if task == "classification":
        classes = target.unique()
        if classes.size < 2:
            raise DataError(
                f"target column {target.name!r} holds a single class {classes.tolist()}; "
                "classification needs at least two"
            )
    elif not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        raise DataError(
            f"target column {target.name!r} has dtype {target.dtype}; regression needs numbers"
        )


def train_model(
    config: TrainConfig, train_frame: pd.DataFrame, test_frame: pd.DataFrame | None
) -> TrainedModel:
    """Infer the schema, fit the pipeline and score it as ``config.split`` says.

    ``holdout`` scores on ``test_frame`` (or, without one, on a seeded ``test_size``
    split of the training rows); ``cv`` averages k-fold scores on the training rows and
    then fits on all of them.
    """
    features, target = split_target(train_frame, config, source="training data")
    check_target(target, config.task)
    schema = infer_schema(
        features,
        numeric=config.features.numeric,
        categorical=config.features.categorical,
        allow_unseen_categories=config.features.allow_unseen_categories,
    )
    X = schema.prepare(features)
    estimator = build_estimator(
        config.task, config.estimator_name, config.estimator.params, seed=config.seed
    )
    pipeline = build_pipeline(schema, estimator)
    if config.split.strategy == "cv":
        metrics = _cross_validate(pipeline, X, target, config)
        evaluation = f"{config.split.folds}-fold cross-validation"
        pipeline.fit(X, target)
    elif test_frame is not None:
        test_features, test_target = split_target(test_frame, config, source="test data")
        pipeline.fit(X, target)
        metrics = score_model(pipeline, schema.prepare(test_features), test_target, config.task)
        evaluation = "hold-out test data"
    else:
        X_fit, X_held, y_fit, y_held = train_test_split(
            X,
            target,
            test_size=config.split.test_size,
            random_state=config.seed,
            stratify=target if config.task == "classification" else None,
        )
        pipeline.fit(X_fit, y_fit)
        metrics = score_model(pipeline, X_held, y_held, config.task)
        evaluation = f"hold-out split of {config.split.test_size:g} of the training data"
    predictions = predict_frame(pipeline, X, config.task)
    profile = build_profile(schema, X, predictions, config.task)
    return TrainedModel(metrics, evaluation, pipeline, schema, profile)


# Task metrics and the quality gate.


def score_model(
    model: Pipeline, features: pd.DataFrame, target: pd.Series, task: Task
) -> dict[str, float]:
    """Metrics of ``model`` on ``features`` against ``target``."""
    if task == "regression":
        return regression_metrics(target.to_numpy(), np.asarray(model.predict(features)))
    probabilities = np.asarray(model.predict_proba(features), dtype="float64")
    return classification_metrics(target.to_numpy(), probabilities, model.classes_)


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


class GateResult(BaseModel):
    """Whether a model passed, and a sentence for every bound it broke."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passed: bool
    failures: list[str] = []


def check_quality_gate(
    metrics: Mapping[str, float], thresholds: Mapping[str, Threshold]
) -> GateResult:
    """Compare ``metrics`` with ``thresholds``; a NaN or absent metric fails its bound."""
    failures = []
    for metric, bound in thresholds.items():
        value = metrics.get(metric, math.nan)
        if math.isnan(value):
            failures.append(f"{metric} could not be computed")
            continue
        if bound.min is not None and value < bound.min:
            failures.append(f"{metric} = {value:.4g} is below the minimum {bound.min:.4g}")
        if bound.max is not None and value > bound.max:
            failures.append(f"{metric} = {value:.4g} is above the maximum {bound.max:.4g}")
    return GateResult(passed=not failures, failures=failures)


def _cross_validate(
    pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, config: TrainConfig
) -> dict[str, float]:
    splitter = (
        StratifiedKFold(config.split.folds, shuffle=True, random_state=config.seed)
        if config.task == "classification"
        else KFold(config.split.folds, shuffle=True, random_state=config.seed)
    )
    scores: list[dict[str, float]] = []
    for fit_rows, score_rows in splitter.split(X, y):
        fold = clone(pipeline).fit(X.iloc[fit_rows], y.iloc[fit_rows])
        scores.append(score_model(fold, X.iloc[score_rows], y.iloc[score_rows], config.task))
    return {name: float(np.mean([score[name] for score in scores])) for name in scores[0]}


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
