"""Prometheus metrics of one app, in a registry of its own (so apps and tests never collide).

Requests, predictions, refusals, prediction-log drops and the served model, plus gauges of
the latest monitoring report (drift and live performance), read when /metrics is scraped.
With a shadow model: its records, its agreement with the served model, its drops and itself.
"""

import logging
from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    Summary,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from ..core.bundle import ModelMetadata
from ..core.reports import PerformanceScores, latest_scores
from .prediction_log import DROP_REASONS

logger = logging.getLogger(__name__)

#: Name and help of the counter of failed, retried fetches of a registered model.
FETCH_RETRIES = (
    "model_fetch_retries",
    "Attempts to fetch the registered model that failed and were retried",
)
#: Latency buckets in seconds: from sub-millisecond probes to slow large batches.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServingMetrics:
    """Request, prediction, validation and model metrics of the HTTP service."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(
        self,
        metadata: ModelMetadata,
        drift_report_dir: Path | None,
        *,
        shadow_drop_reasons: Iterable[str] = (),
    ) -> None:
        """Create every collector in a fresh registry, describing the model of ``metadata``.

        With ``drift_report_dir`` (where ``monitor --report-dir`` writes), /metrics also shows
        the latest report's drift and performance gauges; with ``shadow_drop_reasons`` (a
        shadow model is configured), the shadow's metrics, each drop reason at 0 from the start.
        """
        self._registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self._requests = Counter(
            "http_requests", "HTTP requests by route and status", labels, registry=self._registry
        )
        self._latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self._registry,
        )
        self._predictions = Counter("predictions", "Records predicted", registry=self._registry)
        self._predicted_classes = Counter(
            "predicted_class", "Predicted records by class", ("label",), registry=self._registry
        )
        self._refusals = Counter(
            "validation_errors",
            "Refused /predict requests by the first rule broken",
            ("rule",),
            registry=self._registry,
        )
        self._dropped = Counter(
            "prediction_log_dropped",
            "Prediction-log entries not written, by reason: queue_full, write_error, shutdown",
            ("reason",),
            registry=self._registry,
        )
        for reason in DROP_REASONS:  # every reason shows from the start, at 0
            self._dropped.labels(reason)
        self._fetch_retries = Counter(*FETCH_RETRIES, registry=self._registry)
        model = Info("model", "The served model", registry=self._registry)
        model.info(
            {
                "name": metadata.name,
                "version": metadata.version,
                "task": metadata.task,
                "estimator": metadata.estimator,
            }
        )
        if drift_report_dir is not None:
            self._registry.register(_DriftCollector(drift_report_dir))
        self._classification = metadata.task == "classification"
        self._shadow: _ShadowMetrics | None = None
        if shadow_drop_reasons:
            self._shadow = _ShadowMetrics(self._registry, self._classification)
            for reason in shadow_drop_reasons:
                self._shadow.dropped.labels(reason)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and record its latency."""
        labels = (method, route, str(status))
        self._requests.labels(*labels).inc()
        self._latency.labels(*labels).observe(seconds)

    def observe_predictions(self, labels: Iterable[object] | None, count: int) -> None:
        """Count ``count`` predicted records and, for classification, their classes."""
        self._predictions.inc(count)
        if labels is not None:
            for label, count_of_label in Tally(labels).items():
                self._predicted_classes.labels(str(label)).inc(count_of_label)

    def count_refusal(self, rule: str) -> None:
        """Count one refused /predict request by the first rule it broke."""
        self._refusals.labels(rule).inc()

    def drop_log_entries(self, reason: str, entries: int) -> None:
        """Count prediction-log entries not written for ``reason``."""
        self._dropped.labels(reason).inc(entries)

    def drop_shadow_records(self, reason: str, records: int) -> None:
        """Count records the shadow model did not score or log, for ``reason``."""
        if self._shadow is not None:
            self._shadow.dropped.labels(reason).inc(records)

    def shadow_model_loaded(self, metadata: ModelMetadata) -> None:
        """Describe the shadow model, now ready."""
        if self._shadow is not None:
            self._shadow.model.info(
                {
                    "name": metadata.name,
                    "version": metadata.version,
                    "estimator": metadata.estimator,
                }
            )
            self._shadow.ready.set(1)

    def observe_shadow(self, shadow: Sequence[object], served: Sequence[object]) -> None:
        """Count records the shadow scored and how it agrees with the served predictions.

        Classification: the records of the same class; regression: each absolute difference.
        """
        if self._shadow is None:
            return
        self._shadow.predictions.inc(len(shadow))
        if self._classification:
            same = sum(mine == theirs for mine, theirs in zip(shadow, served, strict=True))
            self._shadow.agreements.inc(same)
            return
        for mine, theirs in zip(shadow, served, strict=True):
            self._shadow.difference.observe(
                abs(float(cast(float, mine)) - float(cast(float, theirs)))
            )

    def count_fetch_retries(self, retries: int) -> None:
        """Count the failed fetches of the served model retried before it loaded."""
        self._fetch_retries.inc(retries)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self._registry)


class _ShadowMetrics:
    """The shadow model's collectors: records, agreement, drops, description and readiness."""

    def __init__(self, registry: CollectorRegistry, classification: bool) -> None:
        """Register them in ``registry``; agreement as same classes, or absolute differences."""
        self.predictions = Counter(
            "shadow_predictions", "Records the shadow model scored", registry=registry
        )
        self.agreements = Counter(
            "shadow_agreements",
            "Records the shadow model put in the served model's class",
            registry=registry if classification else None,
        )
        self.difference = Summary(
            "shadow_absolute_difference",
            "Absolute difference between the shadow's and the served model's prediction",
            registry=registry if not classification else None,
        )
        self.dropped = Counter(
            "shadow_dropped",
            "Records the shadow model did not score or log, by reason",
            ("reason",),
            registry=registry,
        )
        self.model = Info("shadow_model", "The shadow model, once loaded", registry=registry)
        self.ready = Gauge(
            "shadow_model_ready",
            "Whether the shadow model is loaded and scores requests (1) or not (0)",
            registry=registry,
        )


class _DriftCollector(Collector):
    """Expose every statistic of ``report_dir/report.json``, its status and its performance."""

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
        if latest.performance is not None:
            yield from _performance_gauges(latest.performance)


def _performance_gauges(performance: PerformanceScores) -> Iterator[Metric]:
    """Task metrics on labelled rows against their training baselines and limits."""
    live = GaugeMetricFamily(
        "live_metric", "Task metric on the labelled rows of the latest report", labels=("metric",)
    )
    training = GaugeMetricFamily(
        "training_metric",
        "Task metric of the monitored model at training, on rows it did not fit",
        labels=("metric",),
    )
    limit = GaugeMetricFamily(
        "live_metric_limit",
        "Value of a task metric past which live performance is at alert",
        labels=("metric",),
    )
    for metric in performance.metrics:
        if metric.current is not None:
            live.add_metric((metric.metric,), metric.current)
        training.add_metric((metric.metric,), metric.baseline)
        limit.add_metric((metric.metric,), metric.limit)
    yield from (live, training, limit)
    yield GaugeMetricFamily(
        "live_labelled_rows",
        "Labelled rows the latest report scored the model on",
        value=performance.rows,
    )
    if performance.coverage is not None:
        yield GaugeMetricFamily(
            "live_label_coverage",
            "Share of the logged predictions of the label window that have a label",
            value=performance.coverage,
        )
    yield GaugeMetricFamily(
        "live_performance_status",
        "Live performance in the latest report: 0 ok, 1 skipped (cannot judge yet), 2 alert",
        value=performance.status_level,
    )
