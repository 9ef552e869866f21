"""Monitoring configuration: ``configs/monitoring.yaml`` parsed into strict pydantic models.

The keys of the drift statistics' thresholds come from the catalogue
(:data:`~.statistics.DRIFT_STATISTICS`), so a statistic added there is configured here too.
"""

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails

from ..core.config import ConfigError, config_problems, parse_duration, read_yaml_mapping
from .statistics import DRIFT_STATISTICS, thresholds_keys

DEFAULT_MONITORING_CONFIG = Path("configs/monitoring.yaml")


class MonitoringConfigError(ConfigError):
    """The monitoring configuration is missing, malformed or has an invalid value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """A statistic warns at ``warn`` and alerts at ``alert`` (both inclusive).

    For a statistic where higher is worse ``warn`` must not exceed ``alert``, for one where
    lower is worse it must not be below it (the drift config checks the order).
    """

    warn: float = Field(ge=0.0)
    alert: float = Field(ge=0.0)


class DriftConfig(_Strict):
    """The distribution tests' settings and a band per judged drift statistic.

    Every judged statistic of the catalogue (:data:`~.statistics.DRIFT_STATISTICS`) has its
    thresholds under its key (``psi: {warn: 0.1, alert: 0.2}``); a key left out takes the
    catalogue's defaults, and a key the catalogue does not know is refused.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    #: The bands, by thresholds key (pydantic's extra fields, validated as bands).
    __pydantic_extra__: dict[str, Band] = Field(init=False)

    p_value: float = Field(default=0.05, gt=0.0, lt=1.0)
    correction: Literal["bh", "bonferroni"] = "bh"
    psi_epsilon: float = Field(default=1e-4, gt=0.0, lt=0.01)

    @model_validator(mode="wrap")
    @classmethod
    def _bands(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Accept a band per catalogued statistic, with defaults, in the order it breaches."""
        if not isinstance(data, Mapping):
            return handler(data)
        keys = thresholds_keys()
        unknown = [key for key in data if key not in cls.model_fields and key not in keys]
        defaults = {
            key: Band(warn=spec.warn, alert=spec.alert)
            for key, spec in ((key, DRIFT_STATISTICS[name]) for key, name in keys.items())
            if spec.warn is not None and spec.alert is not None
        }
        known = {key: value for key, value in data.items() if key not in unknown}
        problems: list[InitErrorDetails] = []
        try:
            config = handler(defaults | known)
        except ValidationError as error:
            problems = [_init_error(problem) for problem in error.errors()]
        for key, value in known.items():
            band = _band_or_none(value) if key in keys else None
            if band is not None and _misordered(band, DRIFT_STATISTICS[keys[key]].higher_is_worse):
                problems.append(_order_error(key, band))
        problems += [
            {"type": "extra_forbidden", "loc": (key,), "input": data[key]} for key in unknown
        ]
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return config

    def band(self, statistic: str) -> Band:
        """The thresholds of ``statistic`` (a catalogued name): configured or the default."""
        spec = DRIFT_STATISTICS[statistic]
        configured = (self.__pydantic_extra__ or {}).get(spec.thresholds_key or statistic)
        if configured is not None:
            return configured
        if spec.warn is None or spec.alert is None:
            raise ValueError(f"drift statistic {statistic!r} is not judged: it has no thresholds")
        return Band(warn=spec.warn, alert=spec.alert)


def _band_or_none(value: object) -> Band | None:
    """``value`` as a band, or None when it is none (pydantic reports why)."""
    try:
        return Band.model_validate(value)
    except ValidationError:
        return None


def _misordered(band: Band, higher_is_worse: bool) -> bool:
    return band.warn > band.alert if higher_is_worse else band.warn < band.alert


def _order_error(key: str, band: Band) -> InitErrorDetails:
    relation = "exceed" if band.warn > band.alert else "be below"
    problem = ValueError(f"warn ({band.warn}) must not {relation} alert ({band.alert})")
    return {"type": "value_error", "loc": (key,), "input": band, "ctx": {"error": problem}}


def _init_error(problem: ErrorDetails) -> InitErrorDetails:
    """A problem pydantic found, to be raised again with others."""
    details: InitErrorDetails = {
        "type": problem["type"],
        "loc": problem["loc"],
        "input": problem["input"],
    }
    if "ctx" in problem:
        details["ctx"] = problem["ctx"]
    return details


class PerformanceConfig(_Strict):
    """How far task metrics may fall below the training baseline, and when to judge them.

    Live performance (``monitor --labels``) scores the predictions logged within
    ``label_window`` before the run that have a label by then; the prediction-log retention
    must be at least as long, or predictions are deleted before their labels arrive.
    """

    tolerated_drop: float = Field(default=0.1, ge=0.0, le=1.0)
    min_rows: int = Field(default=30, ge=1)
    #: Live performance judges from this many labelled rows (fewer: it cannot judge yet);
    #: ``make bench-alerts`` measures the false alerts it avoids.
    live_min_rows: int = Field(default=200, ge=1)
    min_rows_per_class: int = Field(default=10, ge=1)
    label_window: str = "14d"

    @field_validator("label_window")
    @classmethod
    def _duration(cls, text: str) -> str:
        parse_duration(text)  # raises naming the allowed form
        return text

    @property
    def label_window_length(self) -> timedelta:
        """``label_window`` as a duration."""
        return parse_duration(self.label_window)


class AlertingConfig(_Strict):
    """Alert when ``breaches`` of the last ``windows`` runs breached and the latest did."""

    breaches: int = Field(default=1, ge=1)
    windows: int = Field(default=1, ge=1)
    history_size: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.breaches > self.windows:
            raise ValueError(f"breaches ({self.breaches}) must not exceed windows ({self.windows})")
        if self.windows > self.history_size:
            raise ValueError(f"windows ({self.windows}) must not exceed history_size")
        return self


class MonitoringConfig(_Strict):
    """Everything one monitoring run needs besides its inputs."""

    #: Built when a config is, so the bands follow the catalogue.
    drift: DriftConfig = Field(default_factory=DriftConfig)
    performance: PerformanceConfig = PerformanceConfig()
    alerting: AlertingConfig = AlertingConfig()


def load_monitoring_config(path: Path = DEFAULT_MONITORING_CONFIG) -> MonitoringConfig:
    """Read and validate ``path``; every problem is reported with its dotted key.

    Raises:
        MonitoringConfigError: when the file is missing, not a YAML mapping or invalid.
    """
    raw = read_yaml_mapping(path, what="monitoring config", error=MonitoringConfigError)
    try:
        return MonitoringConfig.model_validate(raw)
    except ValidationError as error:
        raise MonitoringConfigError(f"{path}: {config_problems(error)}") from None
