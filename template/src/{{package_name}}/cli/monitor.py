"""``monitor`` a batch or the prediction log, ``prune-logs``, ``label`` (the labels store).

The options are described here without importing monitoring (pandas, SciPy); each handler
imports what it runs (e.g. ``monitoring.monitor.monitor_batch``) when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.models import model_forms
from .options import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    add_version_mismatch_option,
    config_options,
    load_train_config,
    print_json,
)

#: Where the thresholds and the alert history are, unless the options say otherwise (the same
#: as ``monitoring.config.DEFAULT_MONITORING_CONFIG`` and ``monitoring.verdicts.HISTORY_FILE``,
#: which the tests check; named here so ``--help`` does not import monitoring).
MONITORING_CONFIG = Path("configs/monitoring.yaml")
HISTORY_FILE = "history.json"
#: How long ``prune-logs`` keeps a prediction log after its last record by default.
LOG_RETENTION = "30d"
#: Where ``label`` keeps the labels (``monitoring.labels.DEFAULT_STORE``, which the tests check).
LABELS_STORE = Path("labels")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``monitor``, ``prune-logs`` and ``label`` with their handlers."""
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
    monitor.add_argument(
        "--labels",
        type=Path,
        help="labels store (see `label`): score the logged predictions of the label window on "
        "the labels of their ids (live performance); --current must be prediction logs",
    )
    monitor.add_argument(
        "--card",
        action="store_true",
        help="also write the model's card with this run's drift and live performance into "
        "--report-dir (card.md, card.html, card.svg)",
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
    label = commands.add_parser(
        "label",
        parents=[config_options()],
        help="ingest labels (CSV/Parquet: ids, target, optional label_time) into the labels store",
    )
    label.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="labels file, or a folder whose *.csv and *.parquet files are ingested one by one",
    )
    label.add_argument(
        "--store", type=Path, default=LABELS_STORE, help=f"labels store (default: {LABELS_STORE})"
    )
    label.add_argument(
        "--logs",
        type=Path,
        help="prediction logs (a folder or .jsonl) to count the ids never predicted",
    )
    label.set_defaults(handler=run_label)


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
        labels=args.labels,
        card=args.card,
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


def run_label(args: argparse.Namespace) -> int:
    """``label``: 0 when every file was ingested (or already was), 2 when any was refused."""
    config = load_train_config(args)
    if not config.features.ids:
        raise ValueError("labels join predictions by id: set features.ids in configs/train.yaml")
    from ..monitoring.labels import ingest_folder_or_file

    ingestion = ingest_folder_or_file(
        args.paths,
        args.store,
        task=config.task,
        target=config.data.target,
        ids=config.features.ids,
        logs=args.logs,
    )
    print_json(
        {
            "store": str(args.store),
            "files": [result.as_dict() for result in ingestion.results],
            "refused": [refusal.as_dict() for refusal in ingestion.refused],
        }
    )
    return EXIT_BAD_INPUT if ingestion.refused else EXIT_OK
