"""Monitoring: data drift, prediction drift and performance against a model's reference profile.

The ``monitor`` command (:func:`add_monitor_parser`, :func:`run_monitor`) compares a batch
with a reference (a model's profile or a data file) using the thresholds of
:func:`load_monitoring_config` and writes ``report.json`` and ``report.html``.
"""

from .config import MonitoringConfig, load_monitoring_config
from .monitor import add_monitor_parser, add_version_mismatch_option, run_monitor
from .statistics import numeric_statistics

__all__ = [
    "MonitoringConfig",
    "add_monitor_parser",
    "add_version_mismatch_option",
    "load_monitoring_config",
    "numeric_statistics",
    "run_monitor",
]
