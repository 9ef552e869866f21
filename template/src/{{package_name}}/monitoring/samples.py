"""Samples: current values of columns set against their reference profiles, as arrays.

A drift statistic (see :data:`~.statistics.DRIFT_STATISTICS`) reads one of two samples, both
with one row per compared column:

* :class:`NumericSample`, a block of numeric columns. Their current values are sorted in one
  ``np.sort`` call; each column's reference grid (the distinct values of its sketch) is then
  located in its sorted values with ``np.searchsorted``: a thousand look-ups per column, not
  one per value. The counts at and below each grid point give the empirical CDFs, the shares
  of the reference decile bins (their edges are grid points) and, from prefix sums of the
  sorted values, the exact Wasserstein-1 distance.
* :class:`CategoricalSample`, one categorical column: shares of its reference categories plus
  the unseen ones.
"""

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from threading import Lock
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt

from ..core.profile import NumericProfile

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


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
    missing_share: Floats

    @property
    def columns(self) -> int:
        """Number of columns."""
        return int(self.sizes.size)

    def block(self, columns: slice) -> Self:
        """The grid of the columns in ``columns`` only."""
        parts = {field.name: getattr(self, field.name)[columns] for field in fields(self)}
        return type(self)(**parts)

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
        missing = np.asarray([profile.missing_share for profile in profiles], dtype=np.float64)
        return cls(points, cumulative, sizes, counts, edge_index, shares, scale, missing)


#: Grids of the profiles compared lately (see :func:`reference_grid`).
GRID_CACHE_SIZE = 64
_GRIDS: OrderedDict[tuple[int, ...], tuple[tuple[NumericProfile, ...], ReferenceGrid]] = (
    OrderedDict()
)
_GRIDS_LOCK = Lock()


def reference_grid(profiles: Sequence[NumericProfile]) -> ReferenceGrid:
    """The grid of ``profiles``, built once for the same profile objects (they are frozen).

    A monitor compares window after window with one reference: its grids depend on the
    reference only. The :data:`GRID_CACHE_SIZE` grids used last are kept, each with its
    profiles (so their identities stay theirs while cached).
    """
    key = tuple(id(profile) for profile in profiles)
    with _GRIDS_LOCK:
        found = _GRIDS.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], profiles, strict=True)):
            _GRIDS.move_to_end(key)
            return found[1]
    grid = ReferenceGrid.from_profiles(profiles)
    with _GRIDS_LOCK:
        _GRIDS[key] = (tuple(profiles), grid)
        while len(_GRIDS) > GRID_CACHE_SIZE:
            _GRIDS.popitem(last=False)
    return grid


class Sample(Protocol):
    """What a statistic of either kind reads: arrays with one row per compared column."""

    @property
    def reference_shares(self) -> Floats:
        """Share of the reference in each bin (numeric: deciles; categorical: categories)."""

    @property
    def current_shares(self) -> Floats:
        """Share of the current values in the same bins (zero without values)."""

    @property
    def epsilon(self) -> float:
        """Share used in place of an empty bin's (``drift.psi_epsilon``)."""

    @property
    def rows(self) -> Ints:
        """Current values present."""

    @property
    def missing(self) -> Ints:
        """Current values missing."""

    @property
    def missing_share_reference(self) -> Floats:
        """Share of missing values in the reference."""


@dataclass(frozen=True)
class NumericSample:
    """A block of numeric columns and their references, one row per column."""

    reference: ReferenceGrid
    #: Current values sorted per column, missing (NaN) last.
    ordered: Floats
    rows: Ints
    missing: Ints
    #: Current values at or below, and below, each reference grid point.
    at: Ints
    before: Ints
    #: The reference's empirical CDF at each grid point.
    reference_cdf: Floats
    current_shares: Floats
    epsilon: float

    @property
    def reference_shares(self) -> Floats:
        """Share of the reference in each decile bin."""
        return self.reference.bin_shares

    @property
    def missing_share_reference(self) -> Floats:
        """Share of missing values in the reference."""
        return self.reference.missing_share

    @cached_property
    def wasserstein(self) -> Floats:
        """Wasserstein-1 distance between the reference sketch and the current values."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _wasserstein(self)


@dataclass(frozen=True)
class CategoricalSample:
    """One categorical column and its reference as a block of one row.

    Bins are the reference categories plus :data:`UNSEEN`, last.
    """

    labels: list[str]
    reference_shares: Floats
    current_shares: Floats
    rows: Ints
    missing: Ints
    missing_share_reference: Floats
    epsilon: float


def numeric_sample(grid: ReferenceGrid, values: Floats, *, epsilon: float) -> NumericSample:
    """Set ``values`` (one row per column of ``grid``) against their references.

    NaN and infinite values count as missing.
    """
    ordered = np.where(np.isfinite(values), values, np.nan)
    ordered.sort(axis=1)
    rows = np.count_nonzero(~np.isnan(ordered), axis=1).astype(np.int64)
    at = np.empty(grid.points.shape, dtype=np.int64)
    before = np.empty(grid.points.shape, dtype=np.int64)
    for row in range(grid.points.shape[0]):
        present = ordered[row, : rows[row]]
        at[row] = np.searchsorted(present, grid.points[row], side="right")
        before[row] = np.searchsorted(present, grid.points[row], side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        reference_cdf = grid.cumulative / grid.sizes[:, None]
        shares = _bin_shares(grid.edge_index, before, rows)
    missing = (values.shape[1] - rows).astype(np.int64)
    return NumericSample(grid, ordered, rows, missing, at, before, reference_cdf, shares, epsilon)


def _bin_shares(edge_index: Ints, before: Ints, rows: Ints) -> Floats:
    """Share of the current values in each reference decile bin."""
    before_edges = np.take_along_axis(before, edge_index, axis=1)
    total = rows[:, None]
    bounds = np.hstack([np.zeros_like(total), before_edges, total])
    shares: Floats = np.diff(bounds, axis=1) / total
    return shares


def _wasserstein(sample: NumericSample) -> Floats:
    """Area between the reference and current CDFs, exactly, from the sorted current values.

    Between two grid points the reference CDF is a constant ``level``; the area there is
    split where the current CDF crosses ``level`` (at the current value of that rank), so each
    part is ``|level * width - integral of the current CDF|``, and the integrals come from
    prefix sums of the sorted values.
    """
    ordered, rows, at, before = sample.ordered, sample.rows, sample.at, sample.before
    points, distinct, reference = (
        sample.reference.points,
        sample.reference.distinct,
        sample.reference_cdf,
    )
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
