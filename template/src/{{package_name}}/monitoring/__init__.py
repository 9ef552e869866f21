"""Monitoring: data drift, prediction drift and performance against a model's reference profile.

:func:`~.monitor.monitor_batch` compares a batch with a reference (a model's profile or a data
file) using the thresholds of :func:`~.config.load_monitoring_config` and writes
``report.json`` and ``report.html``; the ``monitor`` command runs it.
"""
