"""The latest drift scores, for dashboards and metrics (e.g. Prometheus gauges in serving)."""

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from .report import REPORT_JSON, read_report

#: Report status as a number: 0 ok, 1 warn, 2 alert.
STATUS_LEVEL = {"ok": 0, "warn": 1, "alert": 2}


@dataclass(frozen=True)
class DriftScore:
    """One statistic of one column in the latest report (a gauge with two labels)."""

    column: str
    statistic: str
    value: float


@dataclass(frozen=True)
class LatestScores:
    """Scores of the latest monitoring run."""

    model_version: str | None
    generated_at: float
    status_level: int
    scores: list[DriftScore]


def latest_scores(report_dir: Path = Path("reports")) -> LatestScores | None:
    """Every non-missing statistic of ``report_dir/report.json``; None before the first run.

    Raises:
        ValueError: when the report exists but is not a valid report.
    """
    path = report_dir / REPORT_JSON
    if not path.is_file():
        return None
    try:
        report = read_report(path)
    except ValidationError as error:
        raise ValueError(
            f"{path} is not a monitoring report: {error.error_count()} problem(s)"
        ) from None
    scores = [
        DriftScore(column.name, statistic.name, statistic.value)
        for column in [*report.features, *report.predictions]
        for statistic in column.statistics
        if statistic.value is not None
    ]
    return LatestScores(
        model_version=report.reference.model_version,
        generated_at=report.generated_at.timestamp(),
        status_level=STATUS_LEVEL[report.status],
        scores=scores,
    )
