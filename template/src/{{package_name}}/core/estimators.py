"""The estimators a config may name, per task, each built with the run's seed."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

from .tasks import Task

EstimatorName = Literal["logistic_regression", "ridge", "random_forest", "hist_gradient_boosting"]


@dataclass(frozen=True)
class EstimatorSpec:
    """How to build one named estimator for each task it supports."""

    factories: Mapping[Task, Callable[..., BaseEstimator]]
    defaults: Mapping[str, Any]

    @property
    def tasks(self) -> tuple[Task, ...]:
        """Tasks this estimator can be trained for."""
        return tuple(self.factories)


ESTIMATORS: Mapping[EstimatorName, EstimatorSpec] = {
    "logistic_regression": EstimatorSpec(
        {"classification": LogisticRegression}, {"max_iter": 1000}
    ),
    "ridge": EstimatorSpec({"regression": Ridge}, {"alpha": 1.0}),
    "random_forest": EstimatorSpec(
        {"classification": RandomForestClassifier, "regression": RandomForestRegressor},
        {"n_estimators": 200, "n_jobs": 1},
    ),
    "hist_gradient_boosting": EstimatorSpec(
        {
            "classification": HistGradientBoostingClassifier,
            "regression": HistGradientBoostingRegressor,
        },
        {},
    ),
}

_DEFAULTS: Mapping[Task, EstimatorName] = {
    "classification": "logistic_regression",
    "regression": "ridge",
}


def default_estimator(task: Task) -> EstimatorName:
    """The estimator used when the config names none."""
    return _DEFAULTS[task]


def unknown_params(task: Task, name: EstimatorName, params: Mapping[str, Any]) -> list[str]:
    """Names in ``params`` the estimator does not accept, sorted."""
    accepted = ESTIMATORS[name].factories[task]().get_params()
    return sorted(set(params) - set(accepted))


def build_estimator(
    task: Task, name: EstimatorName, params: Mapping[str, Any], *, seed: int
) -> BaseEstimator:
    """An unfitted estimator: its defaults, then ``params``, seeded with ``seed``."""
    spec = ESTIMATORS[name]
    if task not in spec.factories:
        raise ValueError(f"estimator {name!r} does not support task {task!r}")
    estimator = spec.factories[task](**{**spec.defaults, "random_state": seed, **params})
    return estimator
