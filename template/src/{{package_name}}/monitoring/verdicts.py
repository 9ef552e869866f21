"""Verdicts: drift statistics judged against thresholds per column, and alerting over windows.

Every statistic of the catalogue (:data:`~.statistics.DRIFT_STATISTICS`) is judged by its
role. A column **alerts** when its distribution test rejects (corrected p-value below
``drift.p_value``) *and* at least one distance (PSI, Jensen-Shannon, normalized Wasserstein)
reaches its alert threshold, or when a share (the missing share's change, the unseen-category
share) reaches its alert threshold. Requiring both significance and size keeps small batches from
alerting on sampling noise (distances of a 100-row batch often exceed 0.1 by chance) and huge
batches from alerting on negligible shifts. A column **warns** when the test rejects but no
distance is large, or a share reaches its warn threshold. Large distances
without a rejecting test are noted in the reasons but leave the column ``ok``.

Alerting does not flap: a small JSON history holds one entry per run (window), newest last.
A run alerts when it breached and at least ``breaches`` of the last ``windows`` runs (itself
included) breached.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError
from scipy.stats import false_discovery_control

from ..core.data import write_text_atomically
from ..core.profile import CategoricalProfile, NumericProfile
from ..core.reports import DRIFT_STATUSES, DriftStatus
from .config import AlertingConfig, DriftConfig
from .report import AlertingReport, Bin, ColumnReport, Statistic, StatisticStatus
from .statistics import (
    DRIFT_STATISTICS,
    ColumnProfile,
    Kind,
    categorical_statistics,
    numeric_statistics,
)

HISTORY_FILE = "history.json"

Role = Literal["feature", "prediction"]


@dataclass(frozen=True)
class ColumnFindings:
    """Raw statistics of one column before correction and verdict."""

    name: str
    role: Role
    kind: Kind
    test: Literal["ks", "chi2"]
    statistic: float | None
    p_value: float | None
    #: Every catalogued statistic of the column's kind, by name, in the catalogue's order.
    values: dict[str, float | None]
    current_rows: int
    current_missing: int
    missing_share_reference: float
    bins: list[Bin]


def column_findings(
    profiles: Mapping[str, ColumnProfile],
    values: Mapping[str, pd.Series],
    *,
    role: Role,
    epsilon: float,
) -> list[ColumnFindings]:
    """Statistics of every column of ``profiles``: numeric ones together, then each categorical."""
    numeric = {name: p for name, p in profiles.items() if isinstance(p, NumericProfile)}
    columns = _numeric_findings(numeric, values, role=role, epsilon=epsilon)
    columns += [
        _categorical_findings(name, profile, values[name], role=role, epsilon=epsilon)
        for name, profile in profiles.items()
        if isinstance(profile, CategoricalProfile)
    ]
    return columns


def judge_findings(columns: Sequence[ColumnFindings], config: DriftConfig) -> list[ColumnReport]:
    """Verdicts on ``columns``, one multiple-testing family, most severe first.

    A run judges its features and model outputs together, so the chance that a batch of the
    reference's distribution alerts at all stays within ``config.p_value``.
    """
    adjusted = _correct([column.p_value for column in columns], config.correction)
    reports = [_judge(column, p, config) for column, p in zip(columns, adjusted, strict=True)]
    return sorted(reports, key=lambda r: (DRIFT_STATUSES.index(r.status), r.severity), reverse=True)


def _numeric_findings(
    profiles: dict[str, NumericProfile], values: Mapping[str, pd.Series], role: Role, epsilon: float
) -> list[ColumnFindings]:
    """Statistics of every column in ``profiles`` (all in ``values``), computed at once."""
    if not profiles:
        return []
    matrix = np.vstack([_numbers(values[name]) for name in profiles])
    found = numeric_statistics(list(profiles.values()), matrix, epsilon=epsilon)
    return [
        ColumnFindings(
            name=name,
            role=role,
            kind="numeric",
            test="ks",
            statistic=_value(found.ks_statistic[index]),
            p_value=_value(found.ks_p_value[index]),
            values={name: _value(values[index]) for name, values in found.values.items()},
            current_rows=int(found.rows[index]),
            current_missing=int(found.missing[index]),
            missing_share_reference=profile.missing_share,
            bins=_numeric_bins(profile, found.bin_shares[index], int(found.rows[index])),
        )
        for index, (name, profile) in enumerate(profiles.items())
    ]


def _categorical_findings(
    name: str, profile: CategoricalProfile, values: pd.Series, *, role: Role, epsilon: float
) -> ColumnFindings:
    """Statistics of one categorical column."""
    found = categorical_statistics(profile, values, epsilon=epsilon)
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
        values=found.values,
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
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiu":
        return np.asarray(values.to_numpy(dtype="float64"), dtype=np.float64)
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


def _correct(p_values: Sequence[float | None], method: str) -> list[float | None]:
    """Benjamini-Hochberg or Bonferroni adjusted p-values; ``None`` stays ``None``."""
    tested = [p for p in p_values if p is not None]
    if not tested:
        return [None] * len(p_values)
    if method == "bh":
        adjusted = iter(false_discovery_control(np.asarray(tested), method="bh").tolist())
    else:
        adjusted = iter(min(1.0, p * len(tested)) for p in tested)
    return [None if p is None else float(next(adjusted)) for p in p_values]


def _judge(column: ColumnFindings, adjusted: float | None, config: DriftConfig) -> ColumnReport:
    total = column.current_rows + column.current_missing
    missing_share = column.current_missing / total if total else None
    corrected = _threshold(f"{column.test}_p_value_corrected", adjusted, config.p_value)
    judged = [_judged(name, value, config) for name, value in column.values.items()]
    statistics = [
        Statistic(name=f"{column.test}_statistic", value=column.statistic, status="info"),
        Statistic(name=f"{column.test}_p_value", value=column.p_value, status="info"),
        corrected,
        *judged,
    ]
    significant = corrected.status == "alert"
    roles = {statistic.name: DRIFT_STATISTICS[statistic.name].role for statistic in judged}
    large = [s.name for s in judged if roles[s.name] == "distance" and s.status == "alert"]
    shares = [statistic for statistic in judged if roles[statistic.name] == "share"]
    reasons = []
    status: DriftStatus = "ok"
    if significant and large:
        status = "alert"
        reasons.append(
            f"{column.test} test rejects (corrected p = {adjusted:.3g}) "
            f"and {', '.join(large)} reach the alert threshold"
        )
    elif significant:
        status = "warn"
        reasons.append(
            f"{column.test} test rejects (corrected p = {adjusted:.3g}) "
            "but no distance reaches its alert threshold"
        )
    elif large:
        reasons.append(
            f"{', '.join(large)} reach the alert threshold "
            f"but the {column.test} test does not reject: sampling noise at this batch size"
        )
    for share in shares:
        if share.status == "warn" or share.status == "alert":
            limit = share.alert if share.status == "alert" else share.warn
            sign = ">=" if share.breach_when == "above" else "<="
            reasons.append(
                f"{share.name} {share.value:.3g} {sign} {share.status} threshold {limit:g}"
            )
            status = max(status, share.status, key=DRIFT_STATUSES.index)
    return ColumnReport(
        name=column.name,
        role=column.role,
        kind=column.kind,
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


def _judged(name: str, value: float | None, config: DriftConfig) -> Statistic:
    """A catalogued statistic with its verdict: shown only (``info``) or against its band."""
    spec = DRIFT_STATISTICS[name]
    if spec.role == "info":
        return Statistic(name=name, value=value, status="info")
    band = config.band(name)
    status: StatisticStatus
    if value is None:
        status = "skipped"
    elif spec.higher_is_worse:
        status = "alert" if value >= band.alert else "warn" if value >= band.warn else "ok"
    else:
        status = "alert" if value <= band.alert else "warn" if value <= band.warn else "ok"
    return Statistic(
        name=name,
        value=value,
        warn=band.warn,
        alert=band.alert,
        breach_when="above" if spec.higher_is_worse else "below",
        status=status,
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


class Window(BaseModel):
    """One past monitoring run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generated_at: datetime
    current: str
    breached: bool


class History(BaseModel):
    """Past runs, oldest first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    windows: list[Window] = []


def read_history(path: Path) -> History:
    """The history at ``path``; an absent file is an empty history."""
    if not path.is_file():
        return History()
    try:
        return History.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as error:
        raise ValueError(
            f"alert history {path} is malformed ({error.error_count()} problem(s)); "
            "fix or delete it to start a new history"
        ) from None


def record_window(path: Path, window: Window, config: AlertingConfig) -> AlertingReport:
    """Append ``window`` to the history at ``path`` (atomically) and decide whether to alert."""
    history = read_history(path)
    windows = [*history.windows, window][-config.history_size :]
    recent = windows[-config.windows :]
    breaches = sum(entry.breached for entry in recent)
    write_text_atomically(path, History(windows=windows).model_dump_json(indent=2) + "\n")
    return AlertingReport(
        breached=window.breached,
        alert=window.breached and breaches >= config.breaches,
        breaches=breaches,
        windows=len(recent),
        required=config.breaches,
        history=str(path),
    )
