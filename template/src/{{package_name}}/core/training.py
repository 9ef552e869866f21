"""Fit the configured pipeline, score it by hold-out or cross-validation, apply the quality gate.

Metrics come from the catalogue in ``metrics`` (accuracy, F1 and ROC AUC for classification;
RMSE, MAE and R2 for regression). A model is published only when every metric is within the
bounds of the quality gate.

The rows that score a model also give monitoring its reference for the model's outputs: the
hold-out rows' predictions, or the out-of-fold predictions of cross-validation. Never the
model's outputs on the rows it was fitted on, which are more confident than on any new row,
so that every production batch would look shifted.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from .config import Threshold, TrainConfig
from .estimators import build_estimator
from .metrics import Task, classification_metrics, regression_metrics
from .pipeline import (
    PREDICTION_COLUMN,
    PROBABILITY_PREFIX,
    build_pipeline,
    predict_frame,
)
from .profile import ReferenceProfile, build_profile
from .schema import DataError, FeatureSchema, infer_schema, require_columns


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
        dropped = {target, *config.features.exclude, *config.features.ids}
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
    then fits on all of them. Features are profiled on the training rows, the model's
    outputs on the scoring rows (hold-out rows, or out-of-fold predictions).
    """
    features, target = split_target(train_frame, config, source="training data")
    check_target(target, config.task)
    schema = infer_schema(
        features,
        numeric=config.features.numeric,
        categorical=config.features.categorical,
        allow_unseen_categories=config.features.allow_unseen_categories,
        ids=config.features.ids,
    )
    X = schema.prepare(features)
    estimator = build_estimator(
        config.task, config.estimator_name, config.estimator_params, seed=config.seed
    )
    pipeline = build_pipeline(schema, estimator)
    if config.split.strategy == "cv":
        metrics, unseen = _cross_validate(pipeline, X, target, config)
        evaluation = f"{config.split.folds}-fold cross-validation"
        pipeline.fit(X, target)
    elif test_frame is not None:
        test_features, test_target = split_target(test_frame, config, source="test data")
        pipeline.fit(X, target)
        X_test = schema.prepare(test_features)
        unseen = predict_frame(pipeline, X_test, config.task)
        metrics = score_predictions(unseen, test_target, config.task, _classes(pipeline))
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
        unseen = predict_frame(pipeline, X_held, config.task)
        metrics = score_predictions(unseen, y_held, config.task, _classes(pipeline))
        evaluation = f"hold-out split of {config.split.test_size:g} of the training data"
    unseen_rows = f"predictions on {len(unseen)} unseen rows ({evaluation})"
    profile = build_profile(schema, X, unseen, config.task, predictions_from=unseen_rows)
    return TrainedModel(metrics, evaluation, pipeline, schema, profile)


# Task metrics and the quality gate.


def score_model(
    model: Pipeline, features: pd.DataFrame, target: pd.Series, task: Task
) -> dict[str, float]:
    """Metrics of ``model`` on ``features`` against ``target``."""
    return score_predictions(predict_frame(model, features, task), target, task, _classes(model))


def score_predictions(
    predictions: pd.DataFrame, target: pd.Series, task: Task, classes: Sequence[object]
) -> dict[str, float]:
    """Metrics of the columns :func:`predict_frame` made against ``target``.

    ``classes`` are the model's classes (``classes_``), empty for regression.
    """
    truth = target.to_numpy()
    if task == "regression":
        return regression_metrics(truth, predictions[PREDICTION_COLUMN].to_numpy(dtype="float64"))
    columns = [f"{PROBABILITY_PREFIX}{label}" for label in classes]
    probabilities = predictions[columns].to_numpy(dtype="float64")
    return classification_metrics(truth, probabilities, np.asarray(classes))


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
) -> tuple[dict[str, float], pd.DataFrame]:
    """Mean fold scores, and every training row's prediction by the fold model that left it out."""
    splitter = (
        StratifiedKFold(config.split.folds, shuffle=True, random_state=config.seed)
        if config.task == "classification"
        else KFold(config.split.folds, shuffle=True, random_state=config.seed)
    )
    scores: list[dict[str, float]] = []
    predictions: list[pd.DataFrame] = []
    for fit_rows, score_rows in splitter.split(X, y):
        fold = clone(pipeline).fit(X.iloc[fit_rows], y.iloc[fit_rows])
        predicted = predict_frame(fold, X.iloc[score_rows], config.task)
        scores.append(score_predictions(predicted, y.iloc[score_rows], config.task, _classes(fold)))
        predictions.append(predicted)
    # Row order does not matter to a profile; a class absent from a fold has probability 0.
    out_of_fold = pd.concat(predictions)
    probabilities = [name for name in out_of_fold.columns if name != PREDICTION_COLUMN]
    out_of_fold[probabilities] = out_of_fold[probabilities].fillna(0.0)
    means = {name: float(np.mean([score[name] for score in scores])) for name in scores[0]}
    return means, out_of_fold


def _classes(model: Pipeline) -> list[object]:
    """The classes a fitted classifier predicts, in its column order; none for a regressor."""
    return list(getattr(model, "classes_", []))
