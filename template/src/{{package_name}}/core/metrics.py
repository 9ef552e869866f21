"""The metric catalogue: the tasks, every metric each reports, its direction, the primary one.

Adding a metric is one entry in :data:`METRICS` (its task, how it is computed from an
:class:`Outcome`, whether lower is better) plus, if a model must meet it, a bound under
``quality_gate`` in the config. The config, the quality gate, ``promote --if-better`` and
monitoring's performance check all read this table. scikit-learn's metrics are imported on
first use, so reading a config stays fast.
"""

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, get_args

import numpy as np
import numpy.typing as npt

#: The kinds of model this project trains; ``task`` in the config picks one.
Task = Literal["classification", "regression"]
TASKS: Final[tuple[Task, ...]] = get_args(Task)


@dataclass(frozen=True)
class Outcome:
    """True values against a model's answers on the same rows.

    ``predicted`` holds labels (classification) or values (regression); a classifier's
    ``probabilities`` have one column per entry of ``labels``, in that order.
    """

    truth: npt.NDArray[Any]
    predicted: npt.NDArray[Any]
    probabilities: npt.NDArray[np.float64] | None = None
    labels: npt.NDArray[Any] | None = None


@dataclass(frozen=True)
class Metric:
    """One metric: the task it scores, how it is computed, and its direction."""

    task: Task
    compute: Callable[[Outcome], float]
    lower_is_better: bool = False
    #: Whether it scores class probabilities, not only the predicted classes.
    needs_probabilities: bool = False


def _sklearn() -> Any:
    """scikit-learn's metrics module, imported on first use."""
    return importlib.import_module("sklearn.metrics")


def _f1(outcome: Outcome) -> float:
    """Binary F1 of the second class, or macro F1 over more classes.

    NaN when it is undefined: no row of the positive class is true or predicted (a class
    without either is left out of the macro average).
    """
    labels = np.asarray(outcome.labels)
    f1_score = _sklearn().f1_score
    undefined = float("nan")
    if labels.size == 2:
        return float(
            f1_score(
                outcome.truth,
                outcome.predicted,
                average="binary",
                pos_label=labels[1],
                zero_division=undefined,
            )
        )
    return float(
        f1_score(outcome.truth, outcome.predicted, average="macro", zero_division=undefined)
    )


def _roc_auc(outcome: Outcome) -> float:
    """ROC AUC (one-vs-rest over more than two classes); NaN when one class is present."""
    labels, truth = np.asarray(outcome.labels), outcome.truth
    probabilities = np.asarray(outcome.probabilities, dtype="float64")
    if np.unique(truth).size < 2:
        return float("nan")
    if labels.size == 2:
        return float(_sklearn().roc_auc_score(truth == labels[1], probabilities[:, 1]))
    return float(_sklearn().roc_auc_score(truth, probabilities, multi_class="ovr", labels=labels))


#: Every metric, by the name configs, reports and the registry use.
METRICS: Mapping[str, Metric] = {
    "accuracy": Metric(
        "classification", lambda o: float(_sklearn().accuracy_score(o.truth, o.predicted))
    ),
    "f1": Metric("classification", _f1),
    "roc_auc": Metric("classification", _roc_auc, needs_probabilities=True),
    "rmse": Metric(
        "regression",
        lambda o: float(_sklearn().root_mean_squared_error(o.truth, o.predicted)),
        lower_is_better=True,
    ),
    "mae": Metric(
        "regression",
        lambda o: float(_sklearn().mean_absolute_error(o.truth, o.predicted)),
        lower_is_better=True,
    ),
    "r2": Metric("regression", lambda o: float(_sklearn().r2_score(o.truth, o.predicted))),
}

#: The metric that ranks two models of a task (``promote --if-better``'s default).
PRIMARY_METRICS: Mapping[Task, str] = {"classification": "roc_auc", "regression": "rmse"}


_Item = TypeVar("_Item")


class _MetricNames(Mapping[Task, tuple[str, ...]]):
    """Names of each task's metrics, read from :data:`METRICS` on every look-up."""

    def __getitem__(self, task: Task) -> tuple[str, ...]:
        if task not in TASKS:
            raise KeyError(task)
        return tuple(name for name, metric in METRICS.items() if metric.task == task)

    def __iter__(self) -> Iterator[Task]:
        return iter(TASKS)

    def __len__(self) -> int:
        return len(TASKS)


class _LowerIsBetter(AbstractSet[str]):
    """Names of the metrics where lower is better, read from :data:`METRICS` on every look-up."""

    def __contains__(self, name: object) -> bool:
        metric = METRICS.get(name) if isinstance(name, str) else None
        return metric is not None and metric.lower_is_better

    def __iter__(self) -> Iterator[str]:
        return (name for name, metric in METRICS.items() if metric.lower_is_better)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @classmethod
    def _from_iterable(cls, it: Iterable[_Item]) -> frozenset[_Item]:
        """Set operations (``|``, ``&``, ``-``) give plain frozensets."""
        return frozenset(it)


#: Metrics each task reports (and a quality gate may bound): derived from :data:`METRICS`.
METRIC_NAMES: Mapping[Task, tuple[str, ...]] = _MetricNames()
#: Metrics where a lower value is better (every other metric is better higher): derived
#: from :data:`METRICS`.
LOWER_IS_BETTER: AbstractSet[str] = _LowerIsBetter()


def task_metrics(outcome: Outcome, task: Task) -> dict[str, float]:
    """Every metric of ``task`` on ``outcome``."""
    return {name: METRICS[name].compute(outcome) for name in METRIC_NAMES[task]}


def regression_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> dict[str, float]:
    """The regression metrics (RMSE, MAE, R2 and any added) of predicted values."""
    return task_metrics(Outcome(np.asarray(y_true), np.asarray(y_pred)), "regression")


def classification_metrics(
    y_true: npt.ArrayLike, probabilities: npt.NDArray[np.float64], classes: npt.ArrayLike
) -> dict[str, float]:
    """The classification metrics from class probabilities (columns ordered as ``classes``).

    The predicted label is the most probable class. Binary targets use the second class as
    positive; more classes use macro F1 and one-vs-rest ROC AUC. ROC AUC is NaN when the
    scored set holds a single class.
    """
    labels = np.asarray(classes)
    predicted = labels[np.argmax(probabilities, axis=1)]
    outcome = Outcome(np.asarray(y_true), predicted, probabilities, labels)
    return task_metrics(outcome, "classification")


def is_better(metric: str, value: float, than: float) -> bool:
    """Whether ``value`` of ``metric`` is strictly better than ``than``."""
    return value < than if metric in LOWER_IS_BETTER else value > than
