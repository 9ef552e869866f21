"""The estimator catalogue: every estimator a config may name, in one table.

Adding an estimator is one entry in :data:`ESTIMATORS` (the scikit-learn class per task, the
project's defaults and the types its fitted model holds beyond skops' safe set) plus its name
in a config: the config's validation, training, ``trusted_types`` (what loading a model
accepts) and ``scripts/bench_alerts.py`` read the table. Classes are imported only when a
model is built, so reading a config stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .metrics import Task

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

#: Types every pipeline may hold beyond skops' built-in safe set, whatever its estimator.
PIPELINE_TRUSTED_TYPES = frozenset({"numpy.dtype"})


@dataclass(frozen=True)
class EstimatorSpec:
    """One estimator: its class for each task it supports (``module:Class``), defaults, types."""

    classes: Mapping[Task, str]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: Types a fitted model holds that skops does not trust by default (checked at loading).
    trusted_types: frozenset[str] = frozenset()

    @property
    def tasks(self) -> tuple[Task, ...]:
        """Tasks this estimator can be trained for."""
        return tuple(self.classes)

    def factory(self, task: Task) -> Callable[..., BaseEstimator]:
        """The scikit-learn class for ``task``, imported now."""
        module, _, name = self.classes[task].partition(":")
        factory: Callable[..., BaseEstimator] = getattr(importlib.import_module(module), name)
        return factory

    def parameters(self, task: Task | None = None) -> set[str]:
        """Names of the hyperparameters the class accepts for ``task`` (any task: None)."""
        return {
            parameter
            for for_task in self.tasks
            if task is None or for_task == task
            for parameter in self.factory(for_task)().get_params()
        }


_TREES = frozenset({"sklearn.tree._tree.Tree"})

#: Every estimator a config may name (``estimator.name``).
ESTIMATORS: Mapping[str, EstimatorSpec] = {
    "logistic_regression": EstimatorSpec(
        {"classification": "sklearn.linear_model:LogisticRegression"}, {"max_iter": 1000}
    ),
    "ridge": EstimatorSpec({"regression": "sklearn.linear_model:Ridge"}, {"alpha": 1.0}),
    "random_forest": EstimatorSpec(
        {
            "classification": "sklearn.ensemble:RandomForestClassifier",
            "regression": "sklearn.ensemble:RandomForestRegressor",
        },
        {"n_estimators": 200, "n_jobs": 1},
        _TREES,
    ),
    "hist_gradient_boosting": EstimatorSpec(
        {
            "classification": "sklearn.ensemble:HistGradientBoostingClassifier",
            "regression": "sklearn.ensemble:HistGradientBoostingRegressor",
        },
        trusted_types=frozenset(
            {"sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"}
        ),
    ),
}

#: The estimator used when the config names none.
DEFAULT_ESTIMATORS: Mapping[Task, str] = {
    "classification": "logistic_regression",
    "regression": "ridge",
}


def trusted_types() -> frozenset[str]:
    """Types a saved model of any catalogued estimator may hold (refused if not listed)."""
    return PIPELINE_TRUSTED_TYPES.union(*(spec.trusted_types for spec in ESTIMATORS.values()))


def build_estimator(
    task: Task, name: str, params: Mapping[str, Any], *, seed: int
) -> BaseEstimator:
    """An unfitted estimator: its defaults, then ``params``; ``random_state=seed`` if it has one."""
    spec = ESTIMATORS.get(name)
    if spec is None:
        raise ValueError(f"{name!r} is not a known estimator; use one of {list(ESTIMATORS)}")
    if task not in spec.classes:
        raise ValueError(f"estimator {name!r} does not support task {task!r}")
    factory = spec.factory(task)
    seeded = {"random_state": seed} if "random_state" in factory().get_params() else {}
    return factory(**{**spec.defaults, **seeded, **params})
