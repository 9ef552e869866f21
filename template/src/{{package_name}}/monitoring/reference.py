"""The reference a batch is compared with: a saved model's profile, or a data file."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..core import (
    SUFFIXES,
    CategoricalProfile,
    FeatureSchema,
    ModelBundle,
    NumericProfile,
    infer_schema,
    load_bundle,
    profile_column,
    read_table,
)

ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class Reference:
    """Feature schema and profiles, plus the model when the reference is one."""

    source: Path
    schema: FeatureSchema
    features: Mapping[str, ColumnProfile]
    rows: int
    bundle: ModelBundle | None = None

    @property
    def model_version(self) -> str | None:
        """Version of the reference model, if any."""
        return self.bundle.metadata.version if self.bundle else None

    @property
    def target(self) -> str | None:
        """Target column of the reference model, if any."""
        return self.bundle.metadata.target if self.bundle else None


def load_reference(
    path: Path, *, target: str = "target", allow_version_mismatch: bool = False
) -> Reference:
    """A model directory or models root (its latest good model), or a CSV/Parquet file.

    A data file is profiled on the fly: every column except ``target`` is a feature, and
    there is no model, so prediction drift and performance are not judged.
    """
    if path.suffix.lower() in SUFFIXES:
        frame = read_table(path)
        features = frame.drop(columns=[target], errors="ignore")
        schema = infer_schema(features)
        profiles = {
            column.name: profile_column(features[column.name], column.kind)
            for column in schema.columns
        }
        return Reference(source=path, schema=schema, features=profiles, rows=len(frame))
    bundle = load_bundle(path, allow_version_mismatch=allow_version_mismatch)
    return Reference(
        source=bundle.directory,
        schema=bundle.schema,
        features=bundle.profile.features,
        rows=bundle.profile.rows,
        bundle=bundle,
    )
