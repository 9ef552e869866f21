"""Prometheus metrics of one app, in a registry of its own (so apps and tests never collide)."""

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..core import ModelMetadata
from .prediction_log import DROP_REASONS

#: Latency buckets in seconds: from sub-millisecond probes to slow large batches.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServingMetrics:
    """Request, prediction, validation and model metrics of the HTTP service."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        """Create every collector in a fresh registry."""
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "http_requests", "HTTP requests by route and status", labels, registry=self.registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter("predictions", "Records predicted", registry=self.registry)
        self.predicted_classes = Counter(
            "predicted_class", "Predicted records by class", ("label",), registry=self.registry
        )
        self.validation_errors = Counter(
            "validation_errors",
            "Refused /predict requests by the first rule broken",
            ("rule",),
            registry=self.registry,
        )
        self.prediction_log_dropped = Counter(
            "prediction_log_dropped",
            "Prediction-log entries not written, by reason: queue_full, write_error, shutdown",
            ("reason",),
            registry=self.registry,
        )
        for reason in DROP_REASONS:  # every reason shows from the start, at 0
            self.prediction_log_dropped.labels(reason)
        self.model = Info("model", "The served model", registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and record its latency."""
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def observe_predictions(self, labels: Iterable[object] | None, count: int) -> None:
        """Count ``count`` predicted records and, for classification, their classes."""
        self.predictions.inc(count)
        if labels is not None:
            for label, count_of_label in Tally(labels).items():
                self.predicted_classes.labels(str(label)).inc(count_of_label)

    def drop_log_entries(self, reason: str, entries: int) -> None:
        """Count prediction-log entries not written for ``reason``."""
        self.prediction_log_dropped.labels(reason).inc(entries)

    def describe_model(self, metadata: ModelMetadata) -> None:
        """Publish the served model's name, version, task and estimator as labels."""
        self.model.info(
            {
                "name": metadata.name,
                "version": metadata.version,
                "task": metadata.task,
                "estimator": metadata.estimator,
            }
        )

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
