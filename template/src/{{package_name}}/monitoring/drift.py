"""Per-feature drift between two data files: the two-sample Kolmogorov-Smirnov test."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .numeric import ColumnReference, ReferenceGrid, numeric_statistics


@dataclass(frozen=True)
class FeatureDrift:
    """Drift statistic of one feature."""

    feature: str
    statistic: float
    p_value: float
    drifted: bool


def feature_drift(
    reference: pd.DataFrame, current: pd.DataFrame, *, alpha: float = 0.05
) -> list[FeatureDrift]:
    """Compare every numeric column of ``reference`` with ``current``.

    The KS statistic and asymptotic p-value equal ``scipy.stats.ks_2samp(..., method="asymp")``
    on the two columns' values. A feature drifts when its Bonferroni-corrected p-value is below
    ``alpha``. Results are sorted by statistic, largest first.
    """
    numeric = [str(name) for name in reference.select_dtypes(include="number").columns]
    missing = sorted(set(numeric) - set(current.columns))
    if missing:
        raise ValueError(f"current data lacks reference columns {missing}")
    if not numeric:
        raise ValueError("reference data has no numeric columns to compare")
    samples = [reference[column].dropna().to_numpy(dtype="float64") for column in numeric]
    values = np.vstack(
        [
            pd.to_numeric(current[column], errors="coerce").to_numpy(dtype="float64")
            for column in numeric
        ]
    )
    empty = [column for column, sample in zip(numeric, samples, strict=True) if sample.size == 0]
    empty += [column for column, row in zip(numeric, values, strict=True) if np.isnan(row).all()]
    if empty:
        raise ValueError(f"column {empty[0]!r} has no values to compare")
    grid = ReferenceGrid.from_columns(
        [ColumnReference(sample, [float(sample.min())], [1.0], 1.0) for sample in samples]
    )
    found = numeric_statistics(grid, values)
    results = []
    for index, column in enumerate(numeric):
        p_value = min(1.0, float(found.ks_p_value[index]) * len(numeric))
        statistic = float(found.ks_statistic[index])
        results.append(FeatureDrift(column, statistic, p_value, p_value < alpha))
    return sorted(results, key=lambda drift: drift.statistic, reverse=True)
