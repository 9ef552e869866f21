"""A loaded model with input checks, predictions and metadata."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ..core.artifacts import load_model


@dataclass(frozen=True)
class PredictionService:
    """Predict with a fitted pipeline after checking each record's fields."""

    model: Pipeline
    model_path: Path

    @classmethod
    def from_path(cls, path: Path) -> Self:
        """Load the model saved at ``path``."""
        return cls(model=load_model(path), model_path=path)

    @property
    def feature_names(self) -> list[str]:
        """Input fields the model was trained on, in order."""
        return [str(name) for name in self.model.feature_names_in_]

    def metadata(self) -> dict[str, Any]:
        """Describe the served model."""
        estimator = self.model.steps[-1][1]
        return {
            "model_path": str(self.model_path),
            "estimator": type(estimator).__name__,
            "features": self.feature_names,
            "classes": [value.item() for value in getattr(estimator, "classes_", [])],
        }

    def predict_frame(self, frame: pd.DataFrame) -> list[float | int]:
        """Predict one value per row; columns other than the model's features are ignored."""
        if frame.empty:
            raise ValueError("no rows to predict")
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise ValueError(f"missing feature columns {missing}")
        predictions = np.asarray(self.model.predict(frame[self.feature_names]))
        return [value.item() for value in predictions]

    def predict(self, records: Sequence[Mapping[str, object]]) -> list[float | int]:
        """Predict one value per record; each record must hold exactly the model's features."""
        expected = set(self.feature_names)
        for index, record in enumerate(records):
            missing = sorted(expected - record.keys())
            extra = sorted(record.keys() - expected)
            if missing or extra:
                raise ValueError(
                    f"record {index}: missing fields {missing}, unexpected fields {extra}"
                )
        return self.predict_frame(pd.DataFrame.from_records(list(records)))
