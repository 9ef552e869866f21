"""Prometheus gauges of the latest monitoring report, read when /metrics is scraped."""

import logging
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..core import latest_scores

logger = logging.getLogger(__name__)


class DriftCollector(Collector):
    """Expose every statistic of ``report_dir/report.json`` and its overall status."""

    def __init__(self, report_dir: Path) -> None:
        """Read reports from ``report_dir`` (where ``monitor --report-dir`` writes them)."""
        self._report_dir = report_dir

    def collect(self) -> Iterator[Metric]:
        """Gauges of the latest report; none before the first run or for a broken report."""
        try:
            latest = latest_scores(self._report_dir)
        except ValueError as error:
            logger.warning("drift gauges skipped: %s", error)
            return
        if latest is None:
            return
        scores = GaugeMetricFamily(
            "drift_score",
            "Statistic per column in the latest monitoring report",
            labels=("column", "statistic"),
        )
        for score in latest.scores:
            scores.add_metric((score.column, score.statistic), score.value)
        yield scores
        status = GaugeMetricFamily(
            "drift_status",
            "Overall status of the latest monitoring report: 0 ok, 1 warn, 2 alert",
            labels=("model_version",),
        )
        status.add_metric((latest.model_version or "",), latest.status_level)
        yield status
        yield GaugeMetricFamily(
            "drift_report_timestamp_seconds",
            "When the latest monitoring report was written (Unix time)",
            value=latest.generated_at,
        )
