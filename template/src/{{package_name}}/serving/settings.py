"""Serving settings, read from environment variables prefixed ``MODEL_SERVER_``.

Example: ``MODEL_SERVER_MODEL_DIR=models/20250101T120000Z MODEL_SERVER_API_KEY=<32 random chars>``.
"""

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MODEL_SERVER_"
#: Shortest API key accepted: a shorter (or empty) key would be guessable or a typo.
MIN_API_KEY_LENGTH = 16


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
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="largest request line plus headers the `serve` command accepts (else 400)",
    )
    receive_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="time a client has to send the whole request body (else 408, then closed)",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description=f"when set (at least {MIN_API_KEY_LENGTH} characters), /predict and /model "
        "need it in the X-API-Key header",
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

    @field_validator("api_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        """Refuse an empty or short key instead of serving with a weak (or no) key."""
        if key is not None and len(key.get_secret_value()) < MIN_API_KEY_LENGTH:
            raise ValueError(
                f"{ENV_PREFIX}API_KEY must be at least {MIN_API_KEY_LENGTH} characters long "
                f"(got {len(key.get_secret_value())}); unset it to serve without a key"
            )
        return key

    @classmethod
    def unknown_variables(cls) -> list[str]:
        """``MODEL_SERVER_*`` environment variables that name no setting (likely typos)."""
        known = {f"{ENV_PREFIX}{name}".upper() for name in cls.model_fields}
        return sorted(
            name
            for name in os.environ
            if name.upper().startswith(ENV_PREFIX) and name.upper() not in known
        )
