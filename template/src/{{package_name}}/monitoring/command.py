"""The ``monitor`` command: compare a batch with the reference, write reports, exit 0/1/2."""

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path

from .config import DEFAULT_MONITORING_CONFIG, load_monitoring_config
from .history import HISTORY_FILE
from .html_report import write_report_html
from .inputs import parse_timestamp, read_current
from .monitor import run_monitoring
from .reference import load_reference
from .report import write_report_json

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_ALERT = 0, 1


def add_monitor_parser(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Register ``monitor`` with the subcommands' ``add_parser``."""
    monitor = add_parser(
        "monitor",
        help="check a batch or the prediction log for drift and performance; write reports",
    )
    monitor.add_argument(
        "--reference",
        type=Path,
        default=Path("models"),
        help="model directory, models root (its latest good model) or a CSV/Parquet file "
        "(default: models)",
    )
    monitor.add_argument(
        "--current",
        type=Path,
        required=True,
        help="batch to check: CSV, Parquet, or the prediction log (.jsonl)",
    )
    monitor.add_argument(
        "--report-dir", type=Path, default=Path("reports"), help="default: reports"
    )
    monitor.add_argument(
        "--config",
        dest="monitoring_config",
        type=Path,
        default=DEFAULT_MONITORING_CONFIG,
        help=f"monitoring thresholds (default: {DEFAULT_MONITORING_CONFIG})",
    )
    monitor.add_argument(
        "--history", type=Path, help=f"alert history (default: <report-dir>/{HISTORY_FILE})"
    )
    monitor.add_argument("--since", help="prediction log: first timestamp (ISO 8601)")
    monitor.add_argument("--until", help="prediction log: end timestamp, exclusive (ISO 8601)")
    add_version_mismatch_option(monitor)
    monitor.add_argument(
        "--target", default="target", help="target column of a data reference (default: target)"
    )


def add_version_mismatch_option(parser: argparse.ArgumentParser) -> None:
    """The ``--allow-version-mismatch`` option of commands that load a model."""
    parser.add_argument(
        "--allow-version-mismatch",
        action="store_true",
        help="load a model trained with another scikit-learn/skops major.minor version "
        "(it may predict wrongly)",
    )


def run_monitor(args: argparse.Namespace) -> int:
    """Run ``monitor``: 0 without alert, 1 on an alert; bad input raises ValueError (exit 2)."""
    config = load_monitoring_config(args.monitoring_config)
    since = parse_timestamp(args.since) if args.since else None
    until = parse_timestamp(args.until) if args.until else None
    if since and until and since >= until:
        raise ValueError(f"--since {args.since} must be before --until {args.until}")
    reference = load_reference(
        args.reference, target=args.target, allow_version_mismatch=args.allow_version_mismatch
    )
    batch = read_current(args.current, since=since, until=until)
    history = args.history or args.report_dir / HISTORY_FILE
    report = run_monitoring(reference, batch, config, history_path=history)
    paths = [write_report_json(report, args.report_dir), write_report_html(report, args.report_dir)]
    print(
        json.dumps(
            {
                "status": report.status,
                "summary": report.summary,
                "reports": [str(p) for p in paths],
            },
            indent=2,
        )
    )
    if report.status == "alert":
        logger.warning("%s", report.summary)
        return EXIT_ALERT
    return EXIT_OK
