"""Serving settings, read from environment variables prefixed ``MODEL_SERVER_``.

Example: ``MODEL_SERVER_MODEL_DIR=models/20250101T120000Z MODEL_SERVER_API_KEY=s3cret``.
"""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MODEL_SERVER_"


class ServingSettings(BaseSettings):
    """How the HTTP service loads its model, bounds requests and logs predictions."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    model_dir: Path = Field(
        default=Path("models"),
        description="a model version directory, or a models root (serves its latest.json)",
    )
    max_batch_rows: int = Field(
        default=1000, ge=1, description="most records one /predict request may hold (else 413)"
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="largest request body accepted (else 413)"
    )
    api_key: SecretStr | None = Field(
        default=None, description="when set, /predict and /model need it in the X-API-Key header"
    )
    prediction_log: Path | None = Field(
        default=None, description="JSON-lines file of every prediction; unset: no log"
    )
    drift_report_dir: Path | None = Field(
        default=None,
        description="directory of `monitor` reports to expose as drift gauges; unset: none",
    )
    allow_version_mismatch: bool = Field(
        default=False,
        description="serve a model trained with another scikit-learn/skops major.minor version",
    )
    prediction_log_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="size at which the log is rotated to <file>.1 (one backup is kept)",
    )
