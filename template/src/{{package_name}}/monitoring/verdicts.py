"""Turn drift statistics into per-column verdicts with thresholds and reasons.

A column **alerts** when its distribution test rejects (corrected p-value below
``drift.p_value``) *and* at least one distance (PSI, Jensen-Shannon, normalized Wasserstein)
reaches its alert threshold, or when its missing share changed, or its unseen-category share
grew, past the alert threshold. Requiring both significance and size keeps small batches from
alerting on sampling noise (distances of a 100-row batch often exceed 0.1 by chance) and huge
batches from alerting on negligible shifts. A column **warns** when the test rejects but no
distance is large, or a missing or unseen share reaches its warn threshold. Large distances
without a rejecting test are noted in the reasons but leave the column ``ok``.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import false_discovery_control

from .config import Band, DriftConfig
from .report import STATUS_RANK, Bin, ColumnReport, Statistic, StatisticStatus, Status

DISTANCES = ("psi", "jensen_shannon", "wasserstein_normalized")


@dataclass(frozen=True)
class ColumnFindings:
    """Raw statistics of one column before correction and verdict."""

    name: str
    role: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    distances: dict[str, float | None]
    info: dict[str, float | None]
    unseen_share: float | None
    current_rows: int
    current_missing: int
    missing_share_reference: float
    bins: list[Bin] = field(default_factory=list)


def correct(p_values: Sequence[float | None], method: str) -> list[float | None]:
    """Benjamini-Hochberg or Bonferroni adjusted p-values; ``None`` stays ``None``."""
    tested = [p for p in p_values if p is not None]
    if not tested:
        return [None] * len(p_values)
    if method == "bh":
        adjusted = iter(false_discovery_control(np.asarray(tested), method="bh").tolist())
    else:
        adjusted = iter(min(1.0, p * len(tested)) for p in tested)
    return [None if p is None else float(next(adjusted)) for p in p_values]


def judge(columns: Sequence[ColumnFindings], config: DriftConfig) -> list[ColumnReport]:
    """Verdicts for ``columns`` (one multiple-testing family), most severe first."""
    adjusted = correct([column.p_value for column in columns], config.correction)
    reports = [_judge(column, p, config) for column, p in zip(columns, adjusted, strict=True)]
    return sorted(reports, key=lambda r: (STATUS_RANK[r.status], r.severity), reverse=True)


def _judge(column: ColumnFindings, adjusted: float | None, config: DriftConfig) -> ColumnReport:
    total = column.current_rows + column.current_missing
    missing_share = column.current_missing / total if total else None
    change = None if missing_share is None else abs(missing_share - column.missing_share_reference)
    statistics = [
        Statistic(name=f"{column.test}_statistic", value=column.statistic, status="info"),
        Statistic(name=f"{column.test}_p_value", value=column.p_value, status="info"),
        _threshold(f"{column.test}_p_value_corrected", adjusted, config.p_value),
        *(
            _banded(name, value, getattr(config, _band_of(name)))
            for name, value in column.distances.items()
        ),
        *(Statistic(name=name, value=value, status="info") for name, value in column.info.items()),
        _banded("missing_share_change", change, config.missing_share_change),
    ]
    if column.kind == "categorical":
        statistics.append(_banded("unseen_share", column.unseen_share, config.unseen_share))
    by_name = {statistic.name: statistic for statistic in statistics}
    significant = by_name[f"{column.test}_p_value_corrected"].status == "alert"
    large = [name for name in column.distances if by_name[name].status == "alert"]
    shares = [by_name[name] for name in ("missing_share_change", "unseen_share") if name in by_name]
    reasons = []
    status: Status = "ok"
    if significant and large:
        status = "alert"
        reasons.append(
            f"{column.test} test rejects (corrected p = {adjusted:.3g}) "
            f"and {_list(large)} reach the alert threshold"
        )
    elif significant:
        status = "warn"
        reasons.append(
            f"{column.test} test rejects (corrected p = {adjusted:.3g}) "
            "but no distance reaches its alert threshold"
        )
    elif large:
        reasons.append(
            f"{_list(large)} reach the alert threshold "
            f"but the {column.test} test does not reject: sampling noise at this batch size"
        )
    for share in shares:
        if share.status in ("warn", "alert"):
            limit = share.alert if share.status == "alert" else share.warn
            reasons.append(f"{share.name} {share.value:.3g} >= {share.status} threshold {limit:g}")
            status = "alert" if share.status == "alert" else _worst(status, "warn")
    return ColumnReport(
        name=column.name,
        role="feature" if column.role == "feature" else "prediction",
        kind="numeric" if column.kind == "numeric" else "categorical",
        status=status,
        severity=_severity(statistics),
        reasons=reasons,
        current_rows=column.current_rows,
        current_missing=column.current_missing,
        missing_share_reference=column.missing_share_reference,
        missing_share_current=missing_share,
        statistics=statistics,
        bins=column.bins,
    )


def _band_of(name: str) -> str:
    return "wasserstein" if name == "wasserstein_normalized" else name


def _banded(name: str, value: float | None, band: Band) -> Statistic:
    status: StatisticStatus
    if value is None:
        status = "skipped"
    else:
        status = "alert" if value >= band.alert else "warn" if value >= band.warn else "ok"
    return Statistic(
        name=name, value=value, warn=band.warn, alert=band.alert, breach_when="above", status=status
    )


def _threshold(name: str, value: float | None, limit: float) -> Statistic:
    status: StatisticStatus = "skipped" if value is None else "alert" if value < limit else "ok"
    return Statistic(name=name, value=value, alert=limit, breach_when="below", status=status)


def _severity(statistics: Sequence[Statistic]) -> float:
    """Largest ratio of a statistic to its alert threshold (for ordering columns)."""
    ratios = [
        statistic.value / statistic.alert
        for statistic in statistics
        if statistic.breach_when == "above" and statistic.value is not None and statistic.alert
    ]
    return float(max(ratios, default=0.0))


def _worst(first: Status, second: Status) -> Status:
    return first if STATUS_RANK[first] >= STATUS_RANK[second] else second


def _list(names: Sequence[str]) -> str:
    return ", ".join(names)
