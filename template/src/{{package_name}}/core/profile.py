"""Reference profile of the training data and the model's predictions, for monitoring.

Numeric values are summarised by quantile bins: ``bin_edges`` are the deciles
(duplicates removed) and ``bin_shares[i]`` is the share of non-missing values in
``[bin_edges[i], bin_edges[i + 1])``, where the first bin extends to -inf and the last
to +inf, so any later value falls in exactly one bin. Categorical values are
summarised by the share of each category among non-missing values.
"""

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from .prediction import PREDICTION_COLUMN, PROBABILITY_PREFIX
from .schema import FeatureSchema, Kind
from .tasks import Task

PROFILE_FORMAT = 1
QUANTILE_BINS = 10
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")


class NumericProfile(_Profile):
    """Distribution of one numeric column."""

    kind: Literal["numeric"] = "numeric"
    count: int
    missing_share: float
    mean: float
    std: float
    minimum: float
    maximum: float
    quantiles: dict[str, float]
    bin_edges: list[float]
    bin_shares: list[float]


class CategoricalProfile(_Profile):
    """Distribution of one categorical column."""

    kind: Literal["categorical"] = "categorical"
    count: int
    missing_share: float
    frequencies: dict[str, float]


ColumnProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class ReferenceProfile(_Profile):
    """Per-feature and prediction distributions of the data a model was trained on."""

    format_version: int = PROFILE_FORMAT
    rows: int
    features: dict[str, ColumnProfile]
    prediction: ColumnProfile
    probabilities: dict[str, NumericProfile] = {}


def profile_column(values: pd.Series, kind: Kind) -> NumericProfile | CategoricalProfile:
    """Summarise one column: quantile bins when numeric, category shares otherwise."""
    return numeric_profile(values) if kind == "numeric" else categorical_profile(values)


def categorical_profile(values: pd.Series) -> CategoricalProfile:
    """Share of each category among the non-missing values."""
    present, missing_share = _present(values)
    shares = present.astype(str).value_counts(normalize=True).sort_index()
    frequencies = {str(label): float(share) for label, share in shares.items()}
    return CategoricalProfile(
        count=present.size, missing_share=missing_share, frequencies=frequencies
    )


def numeric_profile(values: pd.Series) -> NumericProfile:
    """Summary statistics and decile bins of the non-missing values."""
    present, missing_share = _present(values)
    numbers = present.to_numpy(dtype="float64")
    levels = np.linspace(0.0, 1.0, QUANTILE_BINS + 1)
    cuts = np.quantile(numbers, np.concatenate([levels, QUANTILES]))
    edges = np.unique(cuts[: levels.size])
    bins = np.searchsorted(edges[1:-1], numbers, side="right")
    shares = np.bincount(bins, minlength=max(edges.size - 1, 1)) / numbers.size
    return NumericProfile(
        count=numbers.size,
        missing_share=missing_share,
        mean=float(numbers.mean()),
        std=float(numbers.std()),
        minimum=float(numbers.min()),
        maximum=float(numbers.max()),
        quantiles={
            f"p{round(q * 100):02d}": float(cut)
            for q, cut in zip(QUANTILES, cuts[levels.size :], strict=True)
        },
        bin_edges=[float(edge) for edge in edges],
        bin_shares=[float(share) for share in shares],
    )


def build_profile(
    schema: FeatureSchema, features: pd.DataFrame, predictions: pd.DataFrame, task: Task
) -> ReferenceProfile:
    """Profile ``features`` and the columns :func:`predict_frame` made for them."""
    return ReferenceProfile(
        rows=len(features),
        features={
            column.name: profile_column(features[column.name], column.kind)
            for column in schema.columns
        },
        prediction=profile_column(
            predictions[PREDICTION_COLUMN], "numeric" if task == "regression" else "categorical"
        ),
        probabilities={
            str(name).removeprefix(PROBABILITY_PREFIX): numeric_profile(predictions[name])
            for name in predictions.columns
            if str(name).startswith(PROBABILITY_PREFIX)
        },
    )


def _present(values: pd.Series) -> tuple[pd.Series, float]:
    """Non-missing values and the share of missing ones; refuse a column with none."""
    present = values.dropna()
    if present.empty:
        raise ValueError(f"column {values.name!r} has no values to profile")
    return present, float(1.0 - present.size / values.size)
