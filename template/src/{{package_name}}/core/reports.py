"""The latest monitoring report, read back: what serving's drift gauges show.

``monitor`` writes ``report.json`` into its report directory; :func:`latest_scores` reads the
parts a dashboard needs (status, model version, every statistic's value) and ignores the rest,
so the reader and the writer may add fields independently.
"""

from datetime import datetime
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

#: Verdict of a monitoring report or column, least severe first; the index is its level.
DriftStatus = Literal["ok", "warn", "alert"]
DRIFT_STATUSES: tuple[DriftStatus, ...] = ("ok", "warn", "alert")
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


class _ScoredReport(_ReportPart):
    generated_at: datetime
    status: DriftStatus
    reference: _ScoredReference
    features: list[_ScoredColumn]
    predictions: list[_ScoredColumn]


class DriftScore(NamedTuple):
    """One statistic of one column in the latest report (a gauge with two labels)."""

    column: str
    statistic: str
    value: float


class LatestScores(NamedTuple):
    """Scores of the latest monitoring run."""

    model_version: str | None
    generated_at: float
    status_level: int
    scores: list[DriftScore]


def latest_scores(report_dir: Path) -> LatestScores | None:
    """Every non-missing statistic of ``report_dir/report.json``; None before the first run.

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
    )
