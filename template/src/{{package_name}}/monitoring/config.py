"""Monitoring configuration: ``configs/monitoring.yaml`` parsed into strict pydantic models."""

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..core.config import ConfigError, config_problems, read_yaml_mapping

DEFAULT_MONITORING_CONFIG = Path("configs/monitoring.yaml")


class MonitoringConfigError(ConfigError):
    """The monitoring configuration is missing, malformed or has an invalid value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """A statistic warns at ``warn`` and alerts at ``alert`` (both inclusive)."""

    warn: float = Field(ge=0.0)
    alert: float = Field(ge=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.warn > self.alert:
            raise ValueError(f"warn ({self.warn}) must not exceed alert ({self.alert})")
        return self


class DriftConfig(_Strict):
    """Thresholds of the per-column drift statistics."""

    p_value: float = Field(default=0.05, gt=0.0, lt=1.0)
    correction: Literal["bh", "bonferroni"] = "bh"
    psi: Band = Band(warn=0.1, alert=0.2)
    psi_epsilon: float = Field(default=1e-4, gt=0.0, lt=0.01)
    jensen_shannon: Band = Band(warn=0.05, alert=0.1)
    wasserstein: Band = Band(warn=0.05, alert=0.1)
    missing_share_change: Band = Band(warn=0.05, alert=0.1)
    unseen_share: Band = Band(warn=0.01, alert=0.05)


class PerformanceConfig(_Strict):
    """How far task metrics may fall below the training baseline."""

    tolerated_drop: float = Field(default=0.1, ge=0.0, le=1.0)
    min_rows: int = Field(default=30, ge=1)


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

    drift: DriftConfig = DriftConfig()
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
