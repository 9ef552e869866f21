"""Training configuration: what a config may name, the one YAML loader, strict parsing.

The tasks, estimators and metrics a config may name live here; :func:`read_yaml_mapping`
is the loader every YAML config file goes through; ``configs/train.yaml`` is parsed into
strict pydantic models. The config is the single source of the task: none is assumed in code.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Self, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

#: The kinds of model this project trains; ``task`` in the config picks one.
Task = Literal["classification", "regression"]
TASKS: Final[tuple[Task, ...]] = get_args(Task)

#: Metrics each task reports (and a quality gate may bound).
METRIC_NAMES: Mapping[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
}

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

#: The estimator used when the config names none.
DEFAULT_ESTIMATORS: Mapping[Task, EstimatorName] = {
    "classification": "logistic_regression",
    "regression": "ridge",
}

DEFAULT_CONFIG_PATH = Path("configs/train.yaml")
#: Largest seed scikit-learn and numpy accept (seeds are unsigned 32-bit integers).
MAX_SEED = 2**32 - 1
#: Deepest nesting of sections and lists a YAML document may have.
MAX_YAML_DEPTH = 32


class ConfigError(ValueError):
    """The configuration file is missing, malformed or has an invalid value."""


def parse_yaml(text: str, *, source: str) -> Any:
    """The value ``text`` spells in YAML; anchors, aliases and deep nesting are refused.

    Without aliases a document cannot expand ("billion laughs") into more than it spells
    out. The checks run on PyYAML's event stream, before any Python object is built.

    Raises:
        ConfigError: naming ``source`` when the text is not such YAML.
    """
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            depth += isinstance(event, yaml.CollectionStartEvent)
            depth -= isinstance(event, yaml.CollectionEndEvent)
            if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                problem = "anchors and aliases (& and *) are not allowed"
            elif depth > MAX_YAML_DEPTH:
                problem = f"nesting deeper than {MAX_YAML_DEPTH} levels is not allowed"
            else:
                continue
            line = getattr(event.start_mark, "line", 0) + 1
            raise ConfigError(f"{source}: line {line}: {problem}")
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or error
        raise ConfigError(f"{source} is not valid YAML: {reason}{where}") from None


def read_yaml_mapping(
    path: Path, *, what: str = "config file", error: type[ConfigError] = ConfigError
) -> dict[str, Any]:
    """The mapping of sections in the YAML file ``path`` (empty for an empty file).

    Raises:
        ConfigError: (or ``error``) when the file is missing, not valid YAML as
            :func:`parse_yaml` reads it, or not a mapping.
    """
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"), source=str(path))
    except ConfigError as problem:
        raise error(str(problem)) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{path} must hold a mapping of sections, not {type(raw).__name__}")
    return raw


class _Strict(BaseModel):
    """Base of every config section: unknown keys are refused, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Where the training and hold-out data live and which column is the target."""

    train_path: Path = Path("data/train.csv")
    test_path: Path | None = Path("data/test.csv")
    target: str = Field(default="target", min_length=1)


class FeaturesConfig(_Strict):
    """Which columns are features; ``None`` lists are inferred from the data types."""

    numeric: list[str] | None = None
    categorical: list[str] | None = None
    exclude: list[str] = []
    allow_unseen_categories: bool = False


class EstimatorConfig(_Strict):
    """The estimator at the end of the pipeline and its hyperparameters."""

    name: EstimatorName | None = None
    params: dict[str, Any] = {}


class SplitConfig(_Strict):
    """Hold-out scoring or k-fold cross-validation."""

    strategy: Literal["holdout", "cv"] = "holdout"
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    folds: int = Field(default=5, ge=2, le=50)


class Threshold(_Strict):
    """Bounds one metric must stay within for a model to be published."""

    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class OutputConfig(_Strict):
    """Where models and predictions are written."""

    models_dir: Path = Path("models")
    model_name: str = Field(default="model", min_length=1)
    predictions_path: Path = Path("reports/predictions.csv")


class TrainConfig(_Strict):
    """Everything one training run needs."""

    task: Task
    seed: int = Field(default=42, ge=0, le=MAX_SEED)
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    estimator: EstimatorConfig = EstimatorConfig()
    split: SplitConfig = SplitConfig()
    quality_gate: dict[str, Threshold] = {}
    output: OutputConfig = OutputConfig()

    @model_validator(mode="before")
    @classmethod
    def _require_task(cls, data: Any) -> Any:
        """Name the missing ``task`` key and its values, as no task is assumed."""
        if isinstance(data, Mapping) and "task" not in data:
            raise ValueError(f"task: missing; set it to one of {list(TASKS)}")
        return data

    @property
    def estimator_name(self) -> EstimatorName:
        """The configured estimator, or the task's default when none is named."""
        return self.estimator.name or DEFAULT_ESTIMATORS[self.task]

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        name = self.estimator_name
        if self.task not in ESTIMATORS[name].tasks:
            allowed = sorted(key for key, spec in ESTIMATORS.items() if self.task in spec.tasks)
            raise ValueError(
                f"estimator.name: {name!r} does not fit task {self.task!r}; use one of {allowed}"
            )
        accepted = ESTIMATORS[name].factories[self.task]().get_params()
        unknown = sorted(set(self.estimator.params) - set(accepted))
        if unknown:
            raise ValueError(f"estimator.params: {name} has no parameter(s) {unknown}")
        metrics = METRIC_NAMES[self.task]
        for metric in self.quality_gate:
            if metric not in metrics:
                raise ValueError(
                    f"quality_gate.{metric}: not a {self.task} metric; use one of {list(metrics)}"
                )
        return self


def load_config(
    path: Path = DEFAULT_CONFIG_PATH, overrides: Mapping[str, object] | None = None
) -> TrainConfig:
    """Read ``path`` and apply dotted-key ``overrides`` (e.g. ``{"data.target": "y"}``)."""
    raw = read_yaml_mapping(path)
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value, path)
    return parse_config(raw, source=str(path))


def parse_config(raw: Mapping[str, Any], *, source: str = "config") -> TrainConfig:
    """Validate a training config mapping; every problem is reported with its dotted key."""
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: {config_problems(error)}") from None


def config_problems(error: ValidationError) -> str:
    """Every problem of ``error`` as ``key.path: problem``, joined: how config errors read."""
    return "; ".join(_describe(problem) for problem in error.errors())


def _describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as ``key.path: message``."""
    message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
    location = ".".join(str(part) for part in error["loc"])
    return f"{location}: {message}" if location else message


def _set_dotted(raw: dict[str, Any], key: str, value: object, source: Path) -> None:
    """Set ``raw["a"]["b"] = value`` for ``key == "a.b"``, creating sections as needed."""
    *sections, leaf = key.split(".")
    node = raw
    for section in sections:
        child = node.setdefault(section, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{source}: cannot override {key}: {section} is not a section")
        node = child
    node[leaf] = value
