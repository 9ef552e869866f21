"""Training configuration: ``configs/train.yaml`` parsed into strict pydantic models."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .estimators import ESTIMATORS, EstimatorName, default_estimator, unknown_params
from .metrics import METRIC_NAMES
from .tasks import DEFAULT_TASK, Task

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

    task: Task = DEFAULT_TASK
    seed: int = Field(default=42, ge=0, le=MAX_SEED)
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    estimator: EstimatorConfig = EstimatorConfig()
    split: SplitConfig = SplitConfig()
    quality_gate: dict[str, Threshold] = {}
    output: OutputConfig = OutputConfig()

    @property
    def estimator_name(self) -> EstimatorName:
        """The configured estimator, or the task's default when none is named."""
        return self.estimator.name or default_estimator(self.task)

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        name = self.estimator_name
        if self.task not in ESTIMATORS[name].tasks:
            allowed = sorted(key for key, spec in ESTIMATORS.items() if self.task in spec.tasks)
            raise ValueError(
                f"estimator.name: {name!r} does not fit task {self.task!r}; use one of {allowed}"
            )
        unknown = unknown_params(self.task, name, self.estimator.params)
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
    """Validate a mapping; every problem is reported with its dotted key."""
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: " + "; ".join(_describe(e) for e in error.errors())) from None


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
