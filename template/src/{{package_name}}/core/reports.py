"""The latest monitoring report, read back: what serving's drift and performance gauges show.

``monitor`` writes ``report.json`` into its report directory; :func:`latest_scores` reads the
parts a dashboard needs (status, model version, every statistic's value, the task metrics of
the performance section) and ignores the rest, so the reader and the writer may add fields
independently.
"""

from datetime import datetime
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

#: Verdict of a monitoring report or column, least severe first; the index is its level.
DriftStatus = Literal["ok", "warn", "alert"]
DRIFT_STATUSES: tuple[DriftStatus, ...] = ("ok", "warn", "alert")
#: Verdict of the performance check, by level: 0 ok, 1 skipped (cannot judge yet), 2 alert.
LivePerformanceStatus = Literal["ok", "skipped", "alert"]
PERFORMANCE_STATUSES: tuple[LivePerformanceStatus, ...] = ("ok", "skipped", "alert")
#: Monitoring's machine-readable report, under the report directory.
REPORT_JSON = "report.json"


class _ReportPart(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _ScoredStatistic(_ReportPart):
    name: str
    value: float | None


class _ScoredColumn(_ReportPart):
    name: str
    statistics: list[_ScoredStatistic]


class _ScoredReference(_ReportPart):
    model_version: str | None


class _ScoredMetric(_ReportPart):
    name: str
    baseline: float
    current: float | None
    limit: float


class _ScoredLabels(_ReportPart):
    coverage: float | None = None


class _ScoredPerformance(_ReportPart):
    status: LivePerformanceStatus
    rows: int
    metrics: list[_ScoredMetric] = []
    labels: _ScoredLabels | None = None  # reports before the labels store have none


class _ScoredReport(_ReportPart):
    generated_at: datetime
    status: DriftStatus
    reference: _ScoredReference
    features: list[_ScoredColumn]
    predictions: list[_ScoredColumn]
    performance: _ScoredPerformance | None = None  # reports of older releases may have none


class DriftScore(NamedTuple):
    """One statistic of one column in the latest report (a gauge with two labels)."""

    column: str
    statistic: str
    value: float


class MetricScore(NamedTuple):
    """One task metric in the latest report: live value (None if not measured), baseline, limit."""

    metric: str
    current: float | None
    baseline: float
    limit: float


class PerformanceScores(NamedTuple):
    """The performance section of the latest report: verdict, labelled rows, task metrics."""

    status_level: int
    rows: int
    coverage: float | None
    metrics: list[MetricScore]


class LatestScores(NamedTuple):
    """Scores of the latest monitoring run."""

    model_version: str | None
    generated_at: float
    status_level: int
    scores: list[DriftScore]
    performance: PerformanceScores | None = None


def latest_scores(report_dir: Path) -> LatestScores | None:
    """Every non-missing statistic and the performance of ``report_dir/report.json``.

    None before the first run; ``performance`` is None for a report without that section.

    Raises:
        ValueError: when the report exists but is not a valid report.
    """
    path = report_dir / REPORT_JSON
    if not path.is_file():
        return None
    try:
        report = _ScoredReport.model_validate_json(path.read_bytes())
    except ValidationError as error:
        raise ValueError(
            f"{path} is not a monitoring report: {error.error_count()} problem(s)"
        ) from None
    return LatestScores(
        model_version=report.reference.model_version,
        generated_at=report.generated_at.timestamp(),
        status_level=DRIFT_STATUSES.index(report.status),
        scores=[
            DriftScore(column.name, statistic.name, statistic.value)
            for column in [*report.features, *report.predictions]
            for statistic in column.statistics
            if statistic.value is not None
        ],
        performance=None if report.performance is None else _performance(report.performance),
    )


def _performance(section: _ScoredPerformance) -> PerformanceScores:
    return PerformanceScores(
        status_level=PERFORMANCE_STATUSES.index(section.status),
        rows=section.rows,
        coverage=None if section.labels is None else section.labels.coverage,
        metrics=[
            MetricScore(metric.name, metric.current, metric.baseline, metric.limit)
            for metric in section.metrics
        ],
    )
