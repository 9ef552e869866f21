"""``monitor``: check a batch or the prediction log and write the drift reports; ``prune-logs``.

The options are described here without importing monitoring (pandas, SciPy); the handler
imports ``monitoring.monitor.monitor_batch`` when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.models import model_forms
from .options import EXIT_FAILED, EXIT_OK, add_version_mismatch_option, print_json

#: Where the thresholds and the alert history are, unless the options say otherwise (the same
#: as ``monitoring.config.DEFAULT_MONITORING_CONFIG`` and ``monitoring.verdicts.HISTORY_FILE``,
#: which the tests check; named here so ``--help`` does not import monitoring).
MONITORING_CONFIG = Path("configs/monitoring.yaml")
HISTORY_FILE = "history.json"
#: How long ``prune-logs`` keeps a prediction log after its last record by default.
LOG_RETENTION = "30d"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``monitor`` and its handler."""
    monitor = commands.add_parser(
        "monitor",
        help="check a batch or the prediction log for drift and performance; write reports",
    )
    monitor.add_argument(
        "--reference",
        "--model",
        dest="reference",
        default="models",
        help=f"{model_forms()} (its latest good model) or a CSV/Parquet file (default: models)",
    )
    monitor.add_argument(
        "--current",
        type=Path,
        required=True,
        help="batch to check: CSV, Parquet, a prediction log (.jsonl) or a directory of logs "
        "(e.g. one per server replica)",
    )
    monitor.add_argument(
        "--report-dir", type=Path, default=Path("reports"), help="default: reports"
    )
    monitor.add_argument(
        "--config",
        dest="monitoring_config",
        type=Path,
        default=MONITORING_CONFIG,
        help=f"monitoring thresholds (default: {MONITORING_CONFIG})",
    )
    monitor.add_argument(
        "--history", type=Path, help=f"alert history (default: <report-dir>/{HISTORY_FILE})"
    )
    monitor.add_argument(
        "--since", help="prediction log: first timestamp (ISO 8601) or a duration ago (e.g. 24h)"
    )
    monitor.add_argument(
        "--until", help="prediction log: end, exclusive (ISO 8601 or a duration ago, e.g. 1h)"
    )
    add_version_mismatch_option(monitor)
    monitor.add_argument(
        "--target", default="target", help="target column of a data reference (default: target)"
    )
    monitor.set_defaults(handler=run_monitor)
    prune = commands.add_parser(
        "prune-logs",
        help="delete the prediction logs of a directory last written more than an age ago",
    )
    prune.add_argument(
        "--logs", type=Path, required=True, help="directory of prediction logs (*.jsonl)"
    )
    prune.add_argument(
        "--older-than",
        default=LOG_RETENTION,
        help=f"age past which a log is deleted: a number and s, m, h or d (default: "
        f"{LOG_RETENTION}; keep logs at least as long as the windows you monitor)",
    )
    prune.set_defaults(handler=run_prune_logs)


def run_monitor(args: argparse.Namespace) -> int:
    """``monitor``: 0 without alert, 1 on an alert; bad input raises ValueError (exit 2)."""
    from ..monitoring.monitor import monitor_batch

    written = monitor_batch(
        args.reference,
        args.current,
        report_dir=args.report_dir,
        config_path=args.monitoring_config,
        history=args.history,
        since=args.since,
        until=args.until,
        target=args.target,
        allow_version_mismatch=args.allow_version_mismatch,
    )
    report = written.report
    print_json(
        {
            "status": report.status,
            "summary": report.summary,
            "reports": [str(path) for path in written.paths],
        }
    )
    return EXIT_FAILED if written.alert else EXIT_OK


def run_prune_logs(args: argparse.Namespace) -> int:
    """``prune-logs``: delete stale prediction logs and print them; bad input exits 2."""
    from ..monitoring.inputs import parse_duration, prune_logs

    deleted = prune_logs(args.logs, parse_duration(args.older_than))
    print_json({"deleted": [str(path) for path in deleted]})
    return EXIT_OK
