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
from .profile import QUANTILES, ReferenceProfile, build_profile
from .schema import DataError, FeatureSchema, infer_schema, require_columns

#: Categories of the slice column the model card reports, the most frequent first.
MAX_SLICES = 20
#: Fewest scoring rows a category needs for its metrics to be reported.
MIN_SLICE_ROWS = 10
#: Bins of predicted values the residual figure of a regression model shows.
RESIDUAL_BINS = 10
#: The category a missing value of the slice column is counted as.
MISSING_CATEGORY = "(missing)"


class _Details(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfusionMatrix(_Details):
    """Counts of scoring rows by true class (rows) and predicted class (columns)."""

    labels: list[str]
    counts: list[list[int]]


class ResidualBin(_Details):
    """Residuals (true minus predicted) of the scoring rows whose prediction is in one bin."""

    low: float
    high: float
    rows: int
    #: The residuals' quantiles, keyed p05, p25, p50, p75, p95.
    quantiles: dict[str, float]


class SliceScore(_Details):
    """The metrics of the scoring rows of one category; none below ``MIN_SLICE_ROWS`` rows."""

    category: str
    rows: int
    metrics: dict[str, float | None] = {}


class SliceScores(_Details):
    """Metrics by category of one categorical feature on the scoring rows."""

    column: str
    slices: list[SliceScore]
    #: Scoring rows in categories beyond the ``MAX_SLICES`` most frequent ones.
    other_rows: int = 0


class EvaluationDetails(_Details):
    """What the model card shows of the scoring rows beyond the mean metrics.

    A confusion matrix for a classifier, residuals by predicted value for a regressor, and
    the metrics by category of ``card.slice_column`` when one is set.
    """

    rows: int
    confusion_matrix: ConfusionMatrix | None = None
    residuals: list[ResidualBin] = []
    slices: SliceScores | None = None


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
    details: EvaluationDetails


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
    slice_column = config.card.slice_column
    categorical = [column.name for column in schema.columns if column.kind == "categorical"]
    if slice_column is not None and slice_column not in categorical:
        raise DataError(
            f"card.slice_column: {slice_column!r} is not a categorical feature of the training "
            f"data; its categorical features are {categorical or 'none'}"
        )
    X = schema.prepare(features).reset_index(drop=True)
    target = target.reset_index(drop=True)
    estimator = build_estimator(
        config.task, config.estimator_name, config.estimator_params, seed=config.seed
    )
    pipeline = build_pipeline(schema, estimator)
    if config.split.strategy == "cv":
        metrics, unseen = _cross_validate(pipeline, X, target, config)
        scored, truth = X.loc[unseen.index], target.loc[unseen.index]
        evaluation = f"{config.split.folds}-fold cross-validation"
        pipeline.fit(X, target)
    elif test_frame is not None:
        test_features, truth = split_target(test_frame, config, source="test data")
        pipeline.fit(X, target)
        scored = schema.prepare(test_features)
        unseen = predict_frame(pipeline, scored, config.task)
        metrics = score_predictions(unseen, truth, config.task, _classes(pipeline))
        evaluation = "hold-out test data"
    else:
        X_fit, scored, y_fit, truth = train_test_split(
            X,
            target,
            test_size=config.split.test_size,
            random_state=config.seed,
            stratify=target if config.task == "classification" else None,
        )
        pipeline.fit(X_fit, y_fit)
        unseen = predict_frame(pipeline, scored, config.task)
        metrics = score_predictions(unseen, truth, config.task, _classes(pipeline))
        evaluation = f"hold-out split of {config.split.test_size:g} of the training data"
    unseen_rows = f"predictions on {len(unseen)} unseen rows ({evaluation})"
    profile = build_profile(schema, X, unseen, config.task, predictions_from=unseen_rows)
    slices = None if slice_column is None else scored[slice_column]
    details = evaluation_details(unseen, truth, config.task, _classes(pipeline), slices)
    return TrainedModel(metrics, evaluation, pipeline, schema, profile, details)


def evaluation_details(
    predictions: pd.DataFrame,
    truth: pd.Series,
    task: Task,
    classes: Sequence[object],
    slices: pd.Series | None = None,
) -> EvaluationDetails:
    """The confusion matrix or residual bins of ``predictions``, and metrics by ``slices``.

    ``predictions`` (columns of :func:`predict_frame`), ``truth`` and ``slices`` (a categorical
    feature's values) are aligned by position.
    """
    predictions = predictions.reset_index(drop=True)
    truth = truth.reset_index(drop=True)
    matrix, residuals = None, []
    if task == "classification":
        matrix = _confusion_matrix(truth, predictions[PREDICTION_COLUMN], classes)
    else:
        residuals = _residual_bins(truth, predictions[PREDICTION_COLUMN])
    scores = None
    if slices is not None:
        scores = _slice_scores(predictions, truth, task, classes, slices.reset_index(drop=True))
    return EvaluationDetails(
        rows=len(truth), confusion_matrix=matrix, residuals=residuals, slices=scores
    )


def _confusion_matrix(
    truth: pd.Series, predicted: pd.Series, classes: Sequence[object]
) -> ConfusionMatrix:
    from sklearn.metrics import confusion_matrix

    counts = confusion_matrix(truth.to_numpy(), predicted.to_numpy(), labels=list(classes))
    return ConfusionMatrix(
        labels=[str(label) for label in classes], counts=counts.astype(int).tolist()
    )


def _residual_bins(truth: pd.Series, predicted: pd.Series) -> list[ResidualBin]:
    values = predicted.to_numpy(dtype="float64")
    residuals = truth.to_numpy(dtype="float64") - values
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, RESIDUAL_BINS + 1)))
    bins = np.searchsorted(edges[1:-1], values, side="right")
    found = []
    for index in range(max(edges.size - 1, 1)):
        members = residuals[bins == index]
        if members.size:
            cuts = np.quantile(members, QUANTILES)
            found.append(
                ResidualBin(
                    low=float(edges[index]),
                    high=float(edges[min(index + 1, edges.size - 1)]),
                    rows=int(members.size),
                    quantiles={
                        f"p{round(q * 100):02d}": float(cut)
                        for q, cut in zip(QUANTILES, cuts, strict=True)
                    },
                )
            )
    return found


def _slice_scores(
    predictions: pd.DataFrame,
    truth: pd.Series,
    task: Task,
    classes: Sequence[object],
    slices: pd.Series,
) -> SliceScores:
    categories = slices.astype("string").fillna(MISSING_CATEGORY)
    counts = categories.value_counts(sort=True)
    reported = []
    for category, rows in list(counts.items())[:MAX_SLICES]:
        members = (categories == category).to_numpy()
        metrics: dict[str, float | None] = {}
        if rows >= MIN_SLICE_ROWS:
            scores = score_predictions(predictions[members], truth[members], task, classes)
            metrics = {name: None if math.isnan(value) else value for name, value in scores.items()}
        reported.append(SliceScore(category=str(category), rows=int(rows), metrics=metrics))
    return SliceScores(
        column=str(slices.name),
        slices=reported,
        other_rows=int(counts.iloc[MAX_SLICES:].sum()),
    )


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
