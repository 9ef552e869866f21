"""Raw drift statistics of whole columns: numeric ones together, categorical ones each."""

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from ..core import CategoricalProfile, NumericProfile
from .categorical import categorical_statistics
from .numeric import ColumnReference, ReferenceGrid, numeric_statistics
from .report import Bin
from .verdicts import ColumnFindings


def numeric_findings(
    profiles: dict[str, NumericProfile],
    values: dict[str, pd.Series],
    *,
    role: str,
    epsilon: float,
) -> list[ColumnFindings]:
    """Statistics of every column in ``profiles`` (all in ``values``), computed at once."""
    if not profiles:
        return []
    names = list(profiles)
    grid = ReferenceGrid.from_columns(
        [
            ColumnReference(profile.sketch, profile.bin_edges, profile.bin_shares, profile.std)
            for profile in profiles.values()
        ]
    )
    matrix = np.vstack([_numbers(values[name]) for name in names])
    found = numeric_statistics(grid, matrix, epsilon=epsilon)
    return [
        ColumnFindings(
            name=name,
            role=role,
            kind="numeric",
            test="ks",
            statistic=_value(found.ks_statistic[index]),
            p_value=_value(found.ks_p_value[index]),
            distances={
                "psi": _value(found.psi[index]),
                "jensen_shannon": _value(found.jensen_shannon[index]),
                "wasserstein_normalized": _value(found.wasserstein_normalized[index]),
            },
            info={"wasserstein": _value(found.wasserstein[index])},
            unseen_share=None,
            current_rows=int(found.rows[index]),
            current_missing=int(found.missing[index]),
            missing_share_reference=profile.missing_share,
            bins=_numeric_bins(profile, found.bin_shares[index], int(found.rows[index])),
        )
        for index, (name, profile) in enumerate(profiles.items())
    ]


def categorical_findings(
    name: str, profile: CategoricalProfile, values: pd.Series, *, role: str, epsilon: float
) -> ColumnFindings:
    """Statistics of one categorical column."""
    found = categorical_statistics(profile.frequencies, profile.count, values, epsilon=epsilon)
    current: list[float | None] = (
        list(found.current_shares) if found.current_shares else [None] * len(found.labels)
    )
    return ColumnFindings(
        name=name,
        role=role,
        kind="categorical",
        test="chi2",
        statistic=found.chi2_statistic,
        p_value=found.chi2_p_value,
        distances={"psi": found.psi},
        info={},
        unseen_share=found.unseen_share,
        current_rows=found.rows,
        current_missing=found.missing,
        missing_share_reference=profile.missing_share,
        bins=[
            Bin(label=label, reference=reference, current=share)
            for label, reference, share in zip(
                found.labels, found.reference_shares, current, strict=True
            )
        ],
    )


def _numbers(values: pd.Series) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """Values as float64; anything that is not a number becomes NaN (missing)."""
    numbers = pd.to_numeric(values, errors="coerce")
    return np.asarray(numbers.to_numpy(dtype="float64", na_value=np.nan), dtype=np.float64)


def _value(number: float) -> float | None:
    return None if np.isnan(number) else float(number)


def _numeric_bins(profile: NumericProfile, shares: Sequence[float], rows: int) -> list[Bin]:
    """Labels of the reference decile bins, with reference and current shares."""
    edges = profile.bin_edges
    labels = [f"< {edges[1]:.4g}"] if len(edges) > 2 else []
    labels += [f"[{low:.4g}, {high:.4g})" for low, high in pairwise(edges[1:-1])]
    labels.append(f">= {edges[-2]:.4g}" if len(edges) > 2 else "all")
    return [
        Bin(label=label, reference=reference, current=float(share) if rows else None)
        for label, reference, share in zip(labels, profile.bin_shares, shares, strict=False)
    ]
