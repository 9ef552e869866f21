"""Drift statistics of one categorical column against its reference category shares."""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from .numeric import PSI_EPSILON

#: Label of the bin holding categories the reference never saw.
UNSEEN = "(unseen)"


@dataclass(frozen=True)
class CategoricalStatistics:
    """Statistics of one column; ``None`` where the current batch has no values."""

    rows: int
    missing: int
    chi2_statistic: float | None
    chi2_p_value: float | None
    psi: float | None
    unseen_share: float | None
    labels: list[str]
    reference_shares: list[float]
    current_shares: list[float] | None


def categorical_statistics(
    frequencies: Mapping[str, float],
    reference_rows: int,
    values: pd.Series,
    *,
    epsilon: float = PSI_EPSILON,
) -> CategoricalStatistics:
    """Compare current ``values`` with reference category shares of ``reference_rows`` values.

    Bins are the reference categories plus :data:`UNSEEN`. The chi-squared test is Pearson's
    test of homogeneity on the 2 x k table of reference and current counts (no continuity
    correction); bins empty in both are dropped, and a table with one bin left gives
    statistic 0 and p-value 1.
    """
    labels = [*sorted(frequencies), UNSEEN]
    reference_shares = np.asarray([frequencies[label] for label in labels[:-1]] + [0.0])
    present = values.dropna().astype(str)
    missing = int(values.size - present.size)
    if present.empty:
        return CategoricalStatistics(
            0, missing, None, None, None, None, labels, reference_shares.tolist(), None
        )
    counts = present.value_counts()
    current = np.asarray([int(counts.get(label, 0)) for label in labels[:-1]] + [0])
    current[-1] = present.size - current.sum()
    reference = np.rint(reference_shares * reference_rows)
    table = np.vstack([reference, current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        statistic, p_value = 0.0, 1.0
    else:
        result = chi2_contingency(table, correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    current_shares = current / present.size
    expected = np.maximum(reference_shares, epsilon)
    actual = np.maximum(current_shares, epsilon)
    psi = float(((actual - expected) * np.log(actual / expected)).sum())
    return CategoricalStatistics(
        rows=int(present.size),
        missing=missing,
        chi2_statistic=statistic,
        chi2_p_value=p_value,
        psi=psi,
        unseen_share=float(current_shares[-1]),
        labels=labels,
        reference_shares=reference_shares.tolist(),
        current_shares=current_shares.tolist(),
    )
