"""Monitoring: data drift, prediction drift and performance against a model's reference profile.

:func:`run_monitoring` compares a batch with a :class:`Reference` (a model's profile or a
data file) and writes ``report.json`` and ``report.html``; the ``monitor`` command runs it.
"""

from .command import add_monitor_parser, add_version_mismatch_option, run_monitor
from .config import MonitoringConfig, load_monitoring_config
from .inputs import CurrentBatch, read_current
from .monitor import run_monitoring
from .reference import Reference, load_reference
from .report import MonitoringReport, read_report

__all__ = [
    "CurrentBatch",
    "MonitoringConfig",
    "MonitoringReport",
    "Reference",
    "add_monitor_parser",
    "add_version_mismatch_option",
    "load_monitoring_config",
    "load_reference",
    "read_current",
    "read_report",
    "run_monitor",
    "run_monitoring",
]
