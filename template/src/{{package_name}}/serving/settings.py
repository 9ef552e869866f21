"""Serving settings, read from environment variables prefixed ``MODEL_SERVER_``.

Example: ``MODEL_SERVER_MODEL_DIR=models/20250101T120000Z MODEL_SERVER_API_KEY=<32 random chars>``.
In a project that tracks with MLflow, ``MODEL_SERVER_MODEL_URI=models:/<name>@champion`` makes
the service fetch that registered version from ``MLFLOW_TRACKING_URI`` (default
``sqlite:///mlflow.db``) at start-up instead; a project without MLflow refuses that variable.
``MODEL_SERVER_SHADOW_MODEL`` names a second model that scores every request in the shadow
of the served one (see :mod:`.shadow`). :func:`load_settings` reads them, letting models named
on the command line win.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ..core.config import config_problems
from ..core.models import ModelReference, has_registry, is_model_uri

ENV_PREFIX = "MODEL_SERVER_"
#: Shortest API key accepted: a shorter (or empty) key would be guessable or a typo.
MIN_API_KEY_LENGTH = 16
#: The settings that name the model to serve: one of them at most.
MODEL_SETTINGS = ("model_dir", "model_uri")


class ServingSettings(BaseSettings):
    """How the HTTP service loads its model, bounds requests and logs predictions."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    model_dir: Path = Field(
        default=Path("models"),
        description="a model version directory, or a models root (serves its latest.json)",
    )
    model_uri: str | None = Field(
        default=None,
        description="a registered version to serve instead of model_dir: models:/<name>@<alias> "
        "or models:/<name>/<version>, fetched from MLFLOW_TRACKING_URI at start-up (only in a "
        "project that tracks with MLflow)",
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
    request_head_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="time a client has to send the request line and headers to `serve` (else "
        "408, then closed)",
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="connections `serve` holds open at once; requests beyond it are answered "
        "503 at once",
    )
    receive_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="time a client has to send the whole request body (else 408, then closed)",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description=f"when set (at least {MIN_API_KEY_LENGTH} characters), /predict, /model "
        "and /model/card need it in the X-API-Key header",
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
    shadow_model: str | None = Field(
        default=None,
        description="a model that also scores every request, off the answer path, for "
        "comparison only: a model version directory or models root or, in a project that "
        "tracks with MLflow, a registered version (e.g. models:/<name>@challenger); its "
        "predictions go to <prediction log>.shadow.jsonl; unset: no shadow",
    )
    shadow_queue_records: int = Field(
        default=10_000,
        ge=1,
        description="records waiting for the shadow model at most; beyond, they are dropped "
        "and counted (shadow_dropped_total)",
    )

    @field_validator("api_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        """Refuse a key no client can send, or an empty or short one.

        Whitespace around a key (the newline ``kubectl create secret --from-file`` keeps from
        a file) never arrives in a header, nor does a character outside printable ASCII:
        every request would be refused.
        """
        if key is None:
            return key
        value = key.get_secret_value()
        if value and not value.strip():
            raise ValueError(
                f"{ENV_PREFIX}API_KEY is only whitespace: set a key of at least "
                f"{MIN_API_KEY_LENGTH} characters, or unset it to serve without a key"
            )
        if value != value.strip():
            raise ValueError(
                f"{ENV_PREFIX}API_KEY starts or ends with whitespace (e.g. the newline of a "
                "file given to kubectl create secret --from-file), which no client can send "
                "in a header: remove it"
            )
        if not all(" " <= character <= "~" for character in value):
            raise ValueError(
                f"{ENV_PREFIX}API_KEY holds characters a header cannot carry: use printable "
                "ASCII only (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if len(value) < MIN_API_KEY_LENGTH:
            raise ValueError(
                f"{ENV_PREFIX}API_KEY must be at least {MIN_API_KEY_LENGTH} characters long "
                f"(got {len(value)}); unset it to serve without a key"
            )
        return key

    @field_validator("model_uri")
    @classmethod
    def _registered_version(cls, uri: str | None) -> str | None:
        """Refuse a malformed registry URI now, naming the accepted forms.

        A project that does not track with MLflow has no registry: any URI is refused,
        naming the setting to use instead.
        """
        if uri is None:
            return uri
        if not has_registry():
            raise ValueError(
                f"{ENV_PREFIX}MODEL_URI names a registered version, but this project does not "
                f"track models with MLflow (tracking: none): unset it and set "
                f"{ENV_PREFIX}MODEL_DIR to a model version directory or a models root"
            )
        try:
            ModelReference.parse(uri)
        except ValueError as error:
            raise ValueError(f"{ENV_PREFIX}MODEL_URI: {error}") from None
        return uri

    @field_validator("shadow_model")
    @classmethod
    def _shadow_reference(cls, reference: str | None) -> str | None:
        """Refuse an empty reference, or a registry URI that is malformed or has no registry."""
        if reference is None:
            return reference
        if not reference.strip():
            raise ValueError(
                f"{ENV_PREFIX}SHADOW_MODEL is empty: name a model version directory"
                + (" or a registered version" if has_registry() else "")
                + ", or unset it to serve without a shadow"
            )
        if not is_model_uri(reference):
            return reference
        if not has_registry():
            raise ValueError(
                f"{ENV_PREFIX}SHADOW_MODEL names a registered version, but this project does "
                "not track models with MLflow (tracking: none): name a model version directory"
            )
        try:
            ModelReference.parse(reference)
        except ValueError as error:
            raise ValueError(f"{ENV_PREFIX}SHADOW_MODEL: {error}") from None
        return reference

    @model_validator(mode="after")
    def _one_model_source(self) -> Self:
        """Refuse a model directory and a registry URI together: which one to serve?"""
        if self.model_uri is not None and "model_dir" in self.model_fields_set:
            raise ValueError(
                f"{ENV_PREFIX}MODEL_DIR and {ENV_PREFIX}MODEL_URI are both set: set one, "
                "the model directory or the registered version to serve"
            )
        return self

    @property
    def model(self) -> str | Path:
        """The model to serve: the registered version's URI if one is set, else the folder."""
        return self.model_uri if self.model_uri is not None else self.model_dir

    @property
    def model_reference(self) -> ModelReference | None:
        """The registered version ``model_uri`` names, if any."""
        return ModelReference.parse(self.model_uri) if self.model_uri is not None else None

    @classmethod
    def unknown_variables(cls) -> list[str]:
        """``MODEL_SERVER_*`` environment variables that name no setting (likely typos)."""
        known = {f"{ENV_PREFIX}{name}".upper() for name in cls.model_fields}
        return sorted(
            name
            for name in os.environ
            if name.upper().startswith(ENV_PREFIX) and name.upper() not in known
        )


def load_settings(
    model: str | os.PathLike[str] | None = None, shadow_model: str | None = None
) -> ServingSettings:
    """The settings from the environment; ``model``, when given, names the model to serve.

    ``model`` (e.g. the ``serve`` command's ``--model``) wins over both
    ``MODEL_SERVER_MODEL_DIR`` and ``MODEL_SERVER_MODEL_URI``: a ``models:/`` reference
    becomes ``model_uri`` (in a project that tracks with MLflow; elsewhere it is refused),
    anything else ``model_dir``. ``shadow_model`` (``--shadow-model``) wins over
    ``MODEL_SERVER_SHADOW_MODEL``. The environment itself is left as it is.

    Raises:
        ValueError: one line naming each invalid ``MODEL_SERVER_*`` variable and its problem.
    """
    try:
        if model is None and shadow_model is None:
            return ServingSettings()
        values: dict[str, Any] = dict(EnvSettingsSource(ServingSettings)())
        if model is not None:
            values = {name: value for name, value in values.items() if name not in MODEL_SETTINGS}
            if is_model_uri(model):
                values["model_uri"] = os.fspath(model)
            else:
                values["model_dir"] = Path(model)
        if shadow_model is not None:
            values["shadow_model"] = shadow_model
        given = _GivenValues(**values)
    except ValidationError as error:
        problems = config_problems(error, key=_variable)
        raise ValueError(f"invalid serving settings: {problems}") from None
    fields = {name: getattr(given, name) for name in ServingSettings.model_fields}
    return ServingSettings.model_construct(given.model_fields_set, **fields)


def _variable(location: Sequence[str | int]) -> str:
    """The environment variable of a setting: ``MODEL_SERVER_<NAME>``."""
    return ENV_PREFIX + "_".join(map(str, location)).upper()


class _GivenValues(ServingSettings):
    """Settings validated from the values passed in only, not from the environment."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values passed in: no variables, files or secrets."""
        return (init_settings,)
