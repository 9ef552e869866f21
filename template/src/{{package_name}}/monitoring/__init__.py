"""Monitoring: data drift, prediction drift and performance against a model's reference profile.

:func:`run_monitoring` compares a batch with a :class:`Reference`; :func:`latest_scores` reads
the latest report's statistics (e.g. for Prometheus gauges); :func:`feature_drift` compares two
data files with the Kolmogorov-Smirnov test.
"""

from .config import MonitoringConfig, load_monitoring_config
from .drift import FeatureDrift, feature_drift
from .inputs import CurrentBatch, read_current
from .monitor import run_monitoring
from .reference import Reference, load_reference
from .report import MonitoringReport, read_report
from .scores import DriftScore, LatestScores, latest_scores

__all__ = [
    "CurrentBatch",
    "DriftScore",
    "FeatureDrift",
    "LatestScores",
    "MonitoringConfig",
    "MonitoringReport",
    "Reference",
    "feature_drift",
    "latest_scores",
    "load_monitoring_config",
    "load_reference",
    "read_current",
    "read_report",
    "run_monitoring",
]
