"""Reference profile of the training data and of the model's outputs on unseen rows.

Numeric values keep a sorted reference sample, ``sketch``: every non-missing value when
there are at most :data:`SKETCH_SIZE` of them (``sketch_exact``), otherwise the
:data:`SKETCH_SIZE` quantiles at levels ``0, 1/1000, ..., 1``. Monitoring runs its
Kolmogorov-Smirnov test and Wasserstein distance against this sample, so it never needs
the training data. ``bin_edges`` are the deciles of the sketch (sketch members, duplicates
removed) and ``bin_shares[i]`` is the share of all non-missing training values in
``[bin_edges[i], bin_edges[i + 1])``, where the first bin extends to -inf and the last to
+inf, so any later value falls in exactly one bin. Categorical values are summarised by
the share of each category among non-missing values.
"""

from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .metrics import Task
from .pipeline import PREDICTION_COLUMN, PROBABILITY_PREFIX
from .schema import FeatureSchema, Kind

PROFILE_FORMAT = 3
#: Profiles before 0.11.0 described the model's outputs on its own training rows; still read.
IN_SAMPLE_FORMAT = 2
IN_SAMPLE = "predictions on the training rows the model was fitted on (profile format 2)"
QUANTILE_BINS = 10
#: Values kept per numeric column: all of them up to this many, else this many quantiles.
SKETCH_SIZE = 1001
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
    sketch: list[float]
    sketch_exact: bool


class CategoricalProfile(_Profile):
    """Distribution of one categorical column."""

    kind: Literal["categorical"] = "categorical"
    count: int
    missing_share: float
    frequencies: dict[str, float]


ColumnProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class ReferenceProfile(_Profile):
    """Distributions a model's monitoring compares with.

    ``features`` describe the training rows. ``prediction`` and ``probabilities`` describe the
    model's outputs on rows it did not fit (``predictions_from`` says which), as its outputs on
    new rows will be. Format 2 profiles (before 0.11.0) profiled the outputs on the training
    rows; they still load, with ``predictions_from`` saying so.
    """

    format_version: int = PROFILE_FORMAT
    rows: int
    features: dict[str, ColumnProfile]
    prediction: ColumnProfile
    probabilities: dict[str, NumericProfile] = {}
    predictions_from: str

    @property
    def predictions_in_sample(self) -> bool:
        """Whether the outputs were profiled on the rows the model was fitted on (format 2)."""
        return self.format_version == IN_SAMPLE_FORMAT

    @model_validator(mode="before")
    @classmethod
    def _check_format(cls, data: Any) -> Any:
        """Refuse profiles of another format with a hint instead of a list of field errors."""
        if isinstance(data, dict):
            found = data.get("format_version", PROFILE_FORMAT)
            if found not in (IN_SAMPLE_FORMAT, PROFILE_FORMAT):
                raise ValueError(
                    f"profile format_version {found!r} is not {IN_SAMPLE_FORMAT} or "
                    f"{PROFILE_FORMAT}, the formats this version reads: retrain the model to "
                    "write a current profile"
                )
            if found == IN_SAMPLE_FORMAT:
                data = {**data, "predictions_from": IN_SAMPLE}
        return data


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
    """Summary statistics, reference sketch and decile bins of the non-missing values."""
    present, missing_share = _present(values)
    numbers = present.to_numpy(dtype="float64")
    sketch = _reference_sketch(numbers)
    positions = np.round(np.linspace(0.0, 1.0, QUANTILE_BINS + 1) * (sketch.size - 1))
    edges = np.unique(sketch[positions.astype(np.int64)])
    cuts = np.quantile(numbers, QUANTILES)
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
            f"p{round(q * 100):02d}": float(cut) for q, cut in zip(QUANTILES, cuts, strict=True)
        },
        bin_edges=[float(edge) for edge in edges],
        bin_shares=[float(share) for share in shares],
        sketch=[float(value) for value in sketch],
        sketch_exact=numbers.size <= SKETCH_SIZE,
    )


def build_profile(
    schema: FeatureSchema,
    features: pd.DataFrame,
    predictions: pd.DataFrame,
    task: Task,
    *,
    predictions_from: str,
) -> ReferenceProfile:
    """Profile ``features``, and ``predictions`` (columns of :func:`predict_frame`) as described."""
    return ReferenceProfile(
        rows=len(features),
        predictions_from=predictions_from,
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


def _reference_sketch(numbers: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Sorted ``numbers`` when few, else their :data:`SKETCH_SIZE` evenly spaced quantiles."""
    if numbers.size <= SKETCH_SIZE:
        return np.sort(numbers)
    return np.quantile(numbers, np.linspace(0.0, 1.0, SKETCH_SIZE))


def _present(values: pd.Series) -> tuple[pd.Series, float]:
    """Non-missing values and the share of missing ones; refuse a column with none."""
    present = values.dropna()
    if present.empty:
        raise ValueError(f"column {values.name!r} has no values to profile")
    return present, float(1.0 - present.size / values.size)
