"""A loaded model bundle with record checks, predictions and metadata."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from ..core import ModelBundle, load_bundle


@dataclass(frozen=True)
class PredictionService:
    """Predict JSON-like records with a verified model bundle."""

    bundle: ModelBundle

    @classmethod
    def from_path(cls, path: Path) -> Self:
        """Load the bundle in ``path`` (a version directory or a models root)."""
        return cls(bundle=load_bundle(path))

    @property
    def feature_names(self) -> list[str]:
        """Input fields the model was trained on, in order."""
        return self.bundle.schema.feature_names

    def metadata(self) -> dict[str, Any]:
        """Describe the served model."""
        metadata = self.bundle.metadata
        return {
            "name": metadata.name,
            "version": metadata.version,
            "task": metadata.task,
            "estimator": metadata.estimator,
            "features": self.feature_names,
            "classes": metadata.classes,
            "metrics": metadata.metrics,
        }

    def predict(self, records: Sequence[Mapping[str, object]]) -> list[dict[str, Any]]:
        """Predict each record; a record must hold exactly the model's features.

        Raises:
            ValueError: for an empty batch or unexpected fields.
            SchemaError: naming each column and rule the records break.
        """
        if not records:
            raise ValueError("no records to predict")
        expected = set(self.feature_names)
        for index, record in enumerate(records):
            extra = sorted(record.keys() - expected)
            if extra:
                raise ValueError(f"record {index}: unexpected fields {extra}")
        frame = self.bundle.schema.frame_from_records(records)
        predictions = self.bundle.predict(frame).to_dict(orient="records")
        return [{str(key): value for key, value in row.items()} for row in predictions]
