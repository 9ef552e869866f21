"""A model bundle: the fitted pipeline with its metadata, feature schema and reference profile.

:func:`load_bundle` is the one entry point serving and monitoring use to get a model.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError
from sklearn.pipeline import Pipeline

from .artifacts import ArtifactError, load_model, save_model
from .hashing import sha256_file
from .metadata import ModelMetadata
from .prediction import predict_in_range
from .profile import ReferenceProfile
from .provenance import package_versions
from .registry import METADATA_FILE, resolve_model_dir
from .schema import QUOTED_ROWS, FeatureSchema, SchemaError, Violation

logger = logging.getLogger(__name__)

MODEL_FILE = "model.skops"
PROFILE_FILE = "profile.json"
#: Distributions whose major.minor version must be the same at training and loading time.
RUNTIME_PACKAGES = ("scikit-learn", "skops")


@dataclass(frozen=True)
class ModelBundle:
    """A loaded, verified model ready to predict."""

    directory: Path
    model: Pipeline
    metadata: ModelMetadata
    profile: ReferenceProfile

    @property
    def schema(self) -> FeatureSchema:
        """The feature schema inputs must follow."""
        return self.metadata.feature_schema

    def predict(self, frame: pd.DataFrame, *, skip_out_of_range: bool = False) -> pd.DataFrame:
        """Check ``frame`` against the schema and return prediction columns for its rows.

        A row with a value too far outside the training range for the model to score (see
        :func:`predict_in_range`) is an ``out_of_range`` violation, or with
        ``skip_out_of_range`` is left out of the result.

        Raises:
            SchemaError: naming every column and rule ``frame`` breaks, with row positions.
        """
        features = self.schema.prepare(frame)
        predictions, unscorable = predict_in_range(self.model, features, self.metadata.task)
        if unscorable and not skip_out_of_range:
            raise SchemaError(
                [
                    Violation(
                        column,
                        "out_of_range",
                        f"column {column!r}: {len(rows)} value(s) too far outside the training "
                        f"range for the model to score (rows {rows[:QUOTED_ROWS]})",
                        tuple(rows[:QUOTED_ROWS]),
                    )
                    for column, rows in unscorable.items()
                ]
            )
        return predictions


def save_bundle(
    directory: Path, model: Pipeline, metadata: ModelMetadata, profile: ReferenceProfile
) -> ModelMetadata:
    """Write model, profile and (last) metadata with the files' SHA-256 digests."""
    model_digest = save_model(model, directory / MODEL_FILE)
    profile_path = directory / PROFILE_FILE
    profile_path.write_text(profile.model_dump_json(indent=2) + "\n", encoding="utf-8")
    files = {MODEL_FILE: model_digest, PROFILE_FILE: sha256_file(profile_path)}
    complete = metadata.model_copy(update={"files": files})
    (directory / METADATA_FILE).write_text(complete.model_dump_json(indent=2) + "\n", "utf-8")
    return complete


def check_versions(metadata: ModelMetadata, *, allow_mismatch: bool = False) -> None:
    """Refuse a model trained with another scikit-learn or skops major.minor than installed.

    With ``allow_mismatch`` the mismatch is logged as a warning instead.

    Raises:
        ArtifactError: naming each package with the trained and the installed version.
    """
    installed = package_versions(RUNTIME_PACKAGES)
    trained = metadata.package_versions
    mismatches = [
        f"{name} {trained.get(name, 'unknown')} (installed: {installed.get(name, 'none')})"
        for name in RUNTIME_PACKAGES
        if _major_minor(trained.get(name)) != _major_minor(installed.get(name))
    ]
    if not mismatches:
        return
    problem = f"model {metadata.version} was trained with {', '.join(mismatches)}"
    if allow_mismatch:
        logger.warning("%s; loading it anyway as version mismatches are allowed", problem)
        return
    raise ArtifactError(
        f"{problem}: it may predict wrongly under another major.minor version. Retrain it, "
        "install the versions it was trained with, or accept the risk with "
        "--allow-version-mismatch (server: MODEL_SERVER_ALLOW_VERSION_MISMATCH=true)"
    )


def load_bundle(path: Path, *, allow_version_mismatch: bool = False) -> ModelBundle:
    """Load the bundle in ``path``: a version directory, or a models root (its latest model).

    Every file is checked against the SHA-256 recorded in ``metadata.json`` before it
    is parsed; the model is loaded with skops' secure loader, and only when it was trained
    with the installed scikit-learn and skops major.minor versions (see :func:`check_versions`).

    Raises:
        ArtifactError: when a file is missing, altered, truncated or malformed, or the
            versions differ and ``allow_version_mismatch`` is false.
    """
    directory = resolve_model_dir(path)
    metadata_path = directory / METADATA_FILE
    try:
        metadata = ModelMetadata.model_validate_json(_read_text(metadata_path))
    except ValidationError as error:
        raise ArtifactError(f"{metadata_path} is malformed: {error}") from None
    check_versions(metadata, allow_mismatch=allow_version_mismatch)
    for name in (MODEL_FILE, PROFILE_FILE):
        if name not in metadata.files:
            raise ArtifactError(f"{directory / METADATA_FILE} records no digest for {name}")
    profile_path = directory / PROFILE_FILE
    if profile_path.is_file() and sha256_file(profile_path) != metadata.files[PROFILE_FILE]:
        raise ArtifactError(f"{profile_path} does not match the SHA-256 recorded at training time")
    try:
        profile = ReferenceProfile.model_validate_json(_read_text(profile_path))
    except ValidationError as error:
        raise ArtifactError(f"{profile_path} is malformed: {error}") from None
    model = load_model(directory / MODEL_FILE, expected_sha256=metadata.files[MODEL_FILE])
    return ModelBundle(directory=directory, model=model, metadata=metadata, profile=profile)


def _major_minor(version: str | None) -> list[str] | None:
    return version.split(".")[:2] if version else None


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ArtifactError(f"{path.name} not found in {path.parent}")
    return path.read_text(encoding="utf-8")
