"""Per-feature drift: the two-sample Kolmogorov-Smirnov test on numeric columns."""

from dataclasses import dataclass

import pandas as pd
from scipy.stats import ks_2samp


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

    A feature drifts when its Bonferroni-corrected p-value is below ``alpha``.
    Results are sorted by statistic, largest first.
    """
    numeric = reference.select_dtypes(include="number").columns.tolist()
    missing = sorted(set(numeric) - set(current.columns))
    if missing:
        raise ValueError(f"current data lacks reference columns {missing}")
    if not numeric:
        raise ValueError("reference data has no numeric columns to compare")
    results = []
    for column in numeric:
        ref = reference[column].dropna().to_numpy()
        cur = pd.to_numeric(current[column], errors="coerce").dropna().to_numpy()
        if ref.size == 0 or cur.size == 0:
            raise ValueError(f"column {column!r} has no values to compare")
        test = ks_2samp(ref, cur)
        p_value = min(1.0, float(test.pvalue) * len(numeric))
        results.append(FeatureDrift(column, float(test.statistic), p_value, p_value < alpha))
    return sorted(results, key=lambda drift: drift.statistic, reverse=True)
