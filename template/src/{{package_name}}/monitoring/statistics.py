"""Drift statistics of a batch against reference profiles: numeric and categorical columns.

**Numeric columns** are compared all at once. Their current values are sorted in one
``np.sort`` call (a 2-D array, one row per column); each column's reference grid (the distinct
values of its sketch) is then located in its sorted values with ``np.searchsorted``: a thousand
look-ups per column, not one per value. Everything else is computed on 2-D arrays:

* **KS**: the two-sample Kolmogorov-Smirnov statistic is the largest gap between the two
  empirical CDFs. Both are step functions, so the gap is largest at a grid point or just
  before one, where the counts give it exactly: identical to ``scipy.stats.ks_2samp`` on the
  sketch and the current values. The p-value is scipy's asymptotic one,
  ``scipy.stats.kstwo.sf(D, round(m * n / (m + n)))``, as ``ks_2samp(method="asymp")``.
* **PSI** on the reference decile bins (their edges are grid points), with ``epsilon`` in
  place of empty shares.
* **Jensen-Shannon distance** (base 2, so within [0, 1]) on the same bins, by
  ``scipy.spatial.distance.jensenshannon``.
* **Wasserstein-1** between the sketch and the current values (the area between the CDFs, as
  ``scipy.stats.wasserstein_distance``), from prefix sums of the sorted values, divided by the
  reference standard deviation.

Why not a loop over scipy: measured with ``scripts/bench_monitoring.py`` (30 features,
1,001-value sketches, a quiet 2-core machine), all five numbers here take 1.7x (10,000 rows) and
2.4x (100,000 rows) less time than ``ks_2samp(method="asymp")`` alone, and 3.5x and 8.7x less
than scipy computing the same numbers column by column (``ks_2samp``, ``wasserstein_distance``,
``np.histogram`` shares, ``jensenshannon``); at 100,000 rows 82 ms, 193 ms and 711 ms. The
values agree with scipy's to 1e-13.

Columns are processed in blocks of about :data:`BLOCK_VALUES` values to bound memory.

**Categorical columns** are compared one at a time: Pearson's chi-squared test of homogeneity
(``scipy.stats.chi2_contingency``), PSI over the reference categories plus :data:`UNSEEN`, and
the share of unseen categories.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, kstwo

from ..core.profile import CategoricalProfile, NumericProfile

ColumnProfile = NumericProfile | CategoricalProfile
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

#: Values sorted per block of columns: bounds memory at a few arrays of this many floats.
BLOCK_VALUES = 1 << 22
#: Label of the bin holding categories the reference never saw.
UNSEEN = "(unseen)"


@dataclass(frozen=True)
class ReferenceGrid:
    """Reference sketches of several numeric columns as padded 2-D arrays, one row each.

    ``points`` holds each column's distinct sorted sketch values followed by ``+inf``
    padding; ``cumulative`` the number of sketch values at or below each point.
    """

    points: Floats
    cumulative: Ints
    sizes: Ints
    distinct: Ints
    edge_index: Ints
    bin_shares: Floats
    scale: Floats

    @property
    def columns(self) -> int:
        """Number of columns."""
        return int(self.sizes.size)

    @classmethod
    def from_profiles(cls, profiles: Sequence[NumericProfile]) -> Self:
        """Build the grid; every inner bin edge must be a value of its column's sketch."""
        distinct = [np.unique(np.asarray(profile.sketch, dtype=np.float64)) for profile in profiles]
        if any(values.size == 0 or not np.isfinite(values).all() for values in distinct):
            raise ValueError("every reference sketch needs at least one value, all finite")
        width = max((values.size for values in distinct), default=0) + 1
        bins = max((len(profile.bin_shares) for profile in profiles), default=1)
        points = np.full((len(profiles), width), np.inf)
        cumulative = np.zeros((len(profiles), width), dtype=np.int64)
        edge_index = np.full((len(profiles), bins - 1), width - 1, dtype=np.int64)
        shares = np.zeros((len(profiles), bins))
        for row, (profile, values) in enumerate(zip(profiles, distinct, strict=True)):
            sample = np.asarray(profile.sketch, dtype=np.float64)
            points[row, : values.size] = values
            cumulative[row] = np.searchsorted(np.sort(sample), points[row], side="right")
            inner = np.asarray(profile.bin_edges[1:-1], dtype=np.float64)
            index = np.searchsorted(values, inner)
            found = values[np.minimum(index, values.size - 1)]
            if (index >= values.size).any() or (found != inner).any():
                raise ValueError("reference bin edges must be values of the reference sketch")
            edge_index[row, : inner.size] = index
            shares[row, : len(profile.bin_shares)] = profile.bin_shares
        sizes = np.asarray([len(profile.sketch) for profile in profiles], dtype=np.int64)
        counts = np.asarray([values.size for values in distinct], dtype=np.int64)
        scale = np.asarray([profile.std if profile.std > 0 else 1.0 for profile in profiles])
        return cls(points, cumulative, sizes, counts, edge_index, shares, scale)


@dataclass(frozen=True)
class NumericStatistics:
    """Statistics of every column (arrays indexed like the profiles); NaN without values."""

    rows: Ints
    missing: Ints
    ks_statistic: Floats
    ks_p_value: Floats
    psi: Floats
    jensen_shannon: Floats
    wasserstein: Floats
    wasserstein_normalized: Floats
    bin_shares: Floats


def numeric_statistics(
    profiles: Sequence[NumericProfile], values: Floats, *, epsilon: float
) -> NumericStatistics:
    """Compare ``values`` (shape ``(columns, rows)``) with ``profiles``, column by column.

    NaN and infinite values count as missing; a column without values gets NaN statistics.
    """
    grid = ReferenceGrid.from_profiles(profiles)
    if values.ndim != 2 or values.shape[0] != grid.columns:
        raise ValueError(f"expected {grid.columns} column(s) of values, got shape {values.shape}")
    if values.shape[1] == 0:
        raise ValueError("no current rows to compare")
    block = max(1, BLOCK_VALUES // max(values.shape[1], 1))
    parts = [
        _block_statistics(grid, values, slice(start, start + block), epsilon)
        for start in range(0, grid.columns, block)
    ]
    return NumericStatistics(
        **{
            field.name: np.concatenate([getattr(part, field.name) for part in parts])
            for field in fields(NumericStatistics)
        }
    )


def _block_statistics(
    grid: ReferenceGrid, values: Floats, block: slice, epsilon: float
) -> NumericStatistics:
    """Statistics of the columns in ``block``."""
    ordered = values[block]
    ordered = np.where(np.isfinite(ordered), ordered, np.nan)
    ordered.sort(axis=1)
    rows = np.count_nonzero(~np.isnan(ordered), axis=1).astype(np.int64)
    points, cumulative, sizes = grid.points[block], grid.cumulative[block], grid.sizes[block]
    at = np.empty(points.shape, dtype=np.int64)
    before = np.empty(points.shape, dtype=np.int64)
    for row in range(points.shape[0]):
        present = ordered[row, : rows[row]]
        at[row] = np.searchsorted(present, points[row], side="right")
        before[row] = np.searchsorted(present, points[row], side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        size = rows[:, None].astype(np.float64)
        reference = cumulative / sizes[:, None]
        previous = np.hstack([np.zeros((reference.shape[0], 1)), reference[:, :-1]])
        gaps = np.maximum(
            np.abs(reference - at / size).max(axis=1),
            np.abs(previous - before / size).max(axis=1),
        )
        ks_statistic = np.clip(gaps, 0.0, 1.0)
        big = np.maximum(sizes, rows).astype(np.float64)
        small = np.minimum(sizes, rows).astype(np.float64)
        effective = np.maximum(np.round(big * small / (big + small)), 1.0)
        ks_p_value = np.clip(kstwo.sf(ks_statistic, effective), 0.0, 1.0)
        shares = _bin_shares(grid.edge_index[block], before, rows)
        psi = _psi(grid.bin_shares[block], shares, epsilon)
        jensen_shannon = np.asarray(
            jensenshannon(grid.bin_shares[block], shares, axis=1, base=2.0), dtype=np.float64
        )
        wasserstein = _wasserstein(
            ordered, rows, points, grid.distinct[block], reference, (at, before)
        )
    empty = rows == 0
    for statistic in (ks_statistic, ks_p_value, psi, jensen_shannon, wasserstein):
        statistic[empty] = np.nan
    return NumericStatistics(
        rows=rows,
        missing=values.shape[1] - rows,
        ks_statistic=ks_statistic,
        ks_p_value=ks_p_value,
        psi=psi,
        jensen_shannon=jensen_shannon,
        wasserstein=wasserstein,
        wasserstein_normalized=wasserstein / grid.scale[block],
        bin_shares=shares,
    )


def _bin_shares(edge_index: Ints, before: Ints, rows: Ints) -> Floats:
    """Share of the current values in each reference decile bin."""
    before_edges = np.take_along_axis(before, edge_index, axis=1)
    total = rows[:, None]
    bounds = np.hstack([np.zeros_like(total), before_edges, total])
    shares: Floats = np.diff(bounds, axis=1) / total
    return shares


def _psi(reference: Floats, current: Floats, epsilon: float) -> Floats:
    """Population Stability Index along the last axis; empty shares count as ``epsilon``."""
    expected = np.maximum(reference, epsilon)
    actual = np.maximum(current, epsilon)
    psi: Floats = ((actual - expected) * np.log(actual / expected)).sum(axis=-1)
    return psi


def _wasserstein(
    ordered: Floats,
    rows: Ints,
    points: Floats,
    distinct: Ints,
    reference: Floats,
    counts: tuple[Ints, Ints],
) -> Floats:
    """Area between the reference and current CDFs, exactly, from the sorted current values.

    Between two grid points the reference CDF is a constant ``level``; the area there is
    split where the current CDF crosses ``level`` (at the current value of that rank), so each
    part is ``|level * width - integral of the current CDF|``, and the integrals come from
    prefix sums of the sorted values. ``counts`` are the current values at or below, and
    below, each grid point.
    """
    at, before = counts
    size = rows[:, None].astype(np.float64)
    prefix = np.zeros((ordered.shape[0], ordered.shape[1] + 1))
    # Missing values sort last: prefix sums are only read up to each column's value count.
    np.cumsum(ordered, axis=1, out=prefix[:, 1:])

    def integral(left: Floats, right: Floats, lower: Ints, upper: Ints) -> Floats:
        """Integral of the current CDF over [left, right].

        ``lower`` values lie at or below ``left``; those of rank ``lower`` to ``upper - 1``
        lie between ``left`` and ``right``.
        """
        sums = np.take_along_axis(prefix, upper, axis=1) - np.take_along_axis(prefix, lower, axis=1)
        result: Floats = (lower * (right - left) + (upper - lower) * right - sums) / size
        return result

    last = (distinct - 1)[:, None]
    lowest, highest = points[:, :1], np.take_along_axis(points, last, axis=1)
    under, over = before[:, :1], np.take_along_axis(at, last, axis=1)
    total = rows[:, None]
    tails = (under * lowest - np.take_along_axis(prefix, under, axis=1)) + (
        np.take_along_axis(prefix, total, axis=1)
        - np.take_along_axis(prefix, over, axis=1)
        - (total - over) * highest
    )
    inside = np.arange(points.shape[1] - 1)[None, :] < last
    left = np.where(inside, points[:, :-1], 0.0)
    right = np.where(inside, points[:, 1:], 0.0)
    level = reference[:, :-1]
    lower, upper = at[:, :-1], before[:, 1:]
    crossing = (lower < level * size) & (level * size < upper)
    rank = np.ceil(level * size).astype(np.int64) - 1
    rank = np.minimum(np.clip(rank, lower, np.maximum(upper - 1, lower)), ordered.shape[1] - 1)
    split = np.where(crossing, np.take_along_axis(ordered, rank, axis=1), left)
    crossed = (
        level * (split - left)
        - integral(left, split, lower, rank)
        + integral(split, right, rank, upper)
        - level * (right - split)
    )
    plain = np.abs(integral(left, right, lower, upper) - level * (right - left))
    area = np.where(inside, np.where(crossing, crossed, plain), 0.0).sum(axis=1)
    result: Floats = tails[:, 0] / size[:, 0] + area
    return result


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
    profile: CategoricalProfile, values: pd.Series, *, epsilon: float
) -> CategoricalStatistics:
    """Compare current ``values`` with the reference category shares of ``profile``.

    Bins are the reference categories plus :data:`UNSEEN`. The chi-squared test is Pearson's
    test of homogeneity on the 2 x k table of reference and current counts (no continuity
    correction); bins empty in both are dropped, and a table with one bin left gives
    statistic 0 and p-value 1.
    """
    frequencies = profile.frequencies
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
    table = np.vstack([np.rint(reference_shares * profile.count), current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        statistic, p_value = 0.0, 1.0
    else:
        result = chi2_contingency(table, correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    current_shares = current / present.size
    return CategoricalStatistics(
        rows=int(present.size),
        missing=missing,
        chi2_statistic=statistic,
        chi2_p_value=p_value,
        psi=float(_psi(reference_shares, current_shares, epsilon)),
        unseen_share=float(current_shares[-1]),
        labels=labels,
        reference_shares=reference_shares.tolist(),
        current_shares=current_shares.tolist(),
    )
