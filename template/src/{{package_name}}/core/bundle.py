"""A model bundle: the fitted pipeline with its metadata, feature schema and reference profile.

:func:`load_bundle` is the one entry point serving and monitoring use to get a model.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError
from sklearn.pipeline import Pipeline

from .artifacts import ArtifactError, load_model, save_model
from .hashing import sha256_file
from .metadata import ModelMetadata
from .prediction import predict_frame
from .profile import ReferenceProfile
from .registry import METADATA_FILE, resolve_model_dir
from .schema import FeatureSchema

MODEL_FILE = "model.skops"
PROFILE_FILE = "profile.json"


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

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Check ``frame`` against the schema and return prediction columns for its rows.

        Raises:
            SchemaError: naming every column and rule ``frame`` breaks.
        """
        return predict_frame(self.model, self.schema.prepare(frame), self.metadata.task)


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


def load_bundle(path: Path) -> ModelBundle:
    """Load the bundle in ``path``: a version directory, or a models root (its latest model).

    Every file is checked against the SHA-256 recorded in ``metadata.json`` before it
    is parsed; the model is loaded with skops' secure loader.

    Raises:
        ArtifactError: when a file is missing, altered, truncated or malformed.
    """
    directory = resolve_model_dir(path)
    metadata_path = directory / METADATA_FILE
    try:
        metadata = ModelMetadata.model_validate_json(_read_text(metadata_path))
    except ValidationError as error:
        raise ArtifactError(f"{metadata_path} is malformed: {error}") from None
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


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ArtifactError(f"{path.name} not found in {path.parent}")
    return path.read_text(encoding="utf-8")
