"""One monitoring run and the ``monitor`` command: compare, judge, report, exit 0/1/2.

A run checks the batch's schema, feature drift, prediction drift (model outputs from the
prediction log or from predicting the batch), performance on labelled rows and alerting.
"""

import argparse
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import (
    PROBABILITY_PREFIX,
    DriftStatus,
    ModelBundle,
    SchemaError,
    score_model,
)
from .config import (
    DEFAULT_MONITORING_CONFIG,
    MonitoringConfig,
    PerformanceConfig,
    load_monitoring_config,
)
from .html_report import write_report_html
from .inputs import (
    CurrentBatch,
    Reference,
    check_columns,
    load_reference,
    parse_timestamp,
    read_current,
)
from .report import (
    ColumnReport,
    CurrentInfo,
    MetricReport,
    MonitoringReport,
    PerformanceReport,
    PerformanceStatus,
    ReferenceInfo,
    write_report_json,
)
from .statistics import ColumnProfile
from .verdicts import HISTORY_FILE, Window, judge_columns, record_window

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_ALERT = 0, 1
#: Metrics where a lower value is better; every other task metric is better higher.
LOWER_IS_BETTER = frozenset({"rmse", "mae"})


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


def run_monitoring(
    reference: Reference,
    batch: CurrentBatch,
    config: MonitoringConfig,
    *,
    history_path: Path,
    now: datetime | None = None,
) -> MonitoringReport:
    """Compare ``batch`` with ``reference``, record the window in the history, and report."""
    generated_at = now or datetime.now(UTC)
    frame = batch.frame
    schema = check_columns(reference.schema, frame, expected_extra={reference.target or "target"})
    present = {
        name: reference.features[name]
        for name in reference.schema.feature_names
        if name in frame.columns
    }
    values = {str(name): column for name, column in frame.items()}
    features = judge_columns(present, values, role="feature", config=config.drift)
    outputs = model_outputs(reference.bundle, batch)
    predictions: list[ColumnReport] = []
    if reference.bundle is not None and outputs.predictions is not None:
        profile = reference.bundle.profile
        produced = outputs.predictions
        columns: dict[str, ColumnProfile] = {"prediction": profile.prediction}
        for label, probability in profile.probabilities.items():
            if f"{PROBABILITY_PREFIX}{label}" in produced.columns:
                columns[f"{PROBABILITY_PREFIX}{label}"] = probability
        produced_values = {str(name): column for name, column in produced.items()}
        predictions = judge_columns(
            columns, produced_values, role="prediction", config=config.drift
        )
    scored = performance(reference.bundle, outputs.scorable, config.performance)
    breached = (
        schema.status == "alert"
        or scored.status == "alert"
        or any(column.status == "alert" for column in [*features, *predictions])
    )
    window = Window(generated_at=generated_at, current=str(batch.source), breached=breached)
    alerting = record_window(history_path, window, config.alerting)
    warned = any(column.status == "warn" for column in [*features, *predictions])
    status: DriftStatus = "alert" if alerting.alert else "warn" if breached or warned else "ok"
    return MonitoringReport(
        generated_at=generated_at,
        status=status,
        summary=_summary(
            status, features, predictions, schema.problems, scored.status, alerting.alert, breached
        ),
        reference=ReferenceInfo(
            source=str(reference.source), model_version=reference.model_version, rows=reference.rows
        ),
        current=CurrentInfo(
            source=str(batch.source),
            rows=len(frame),
            window_start=batch.window_start,
            window_end=batch.window_end,
            skipped_lines=batch.skipped_lines,
            model_versions=batch.model_versions,
        ),
        config=config,
        schema_check=schema,
        features=features,
        predictions=predictions,
        prediction_note=outputs.note,
        performance=scored,
        alerting=alerting,
    )


def _summary(
    status: DriftStatus,
    features: list[ColumnReport],
    predictions: list[ColumnReport],
    problems: list[str],
    performance_status: PerformanceStatus,
    alert: bool,
    breached: bool,
) -> str:
    """One line a person reads first."""
    parts = []
    for role, columns in (("feature", features), ("prediction", predictions)):
        for level in ("alert", "warn"):
            names = [column.name for column in columns if column.status == level]
            if names:
                parts.append(f"{len(names)} {role} column(s) {level}: {', '.join(names)}")
    if problems:
        parts.append(f"{len(problems)} schema problem(s)")
    if performance_status == "alert":
        parts.append("performance below the tolerated drop")
    if breached and not alert:
        parts.append("breach not yet an alert (see alerting: k of the last N windows)")
    return f"{status.upper()}: " + ("; ".join(parts) if parts else "no drift, no schema problem")


@dataclass(frozen=True)
class Outputs:
    """Prediction columns (or None with the reason) and the rows the model could score."""

    predictions: pd.DataFrame | None
    note: str | None
    scorable: pd.DataFrame | None


def model_outputs(bundle: ModelBundle | None, batch: CurrentBatch) -> Outputs:
    """Predictions from the prediction log (rows of the reference model) or from the model.

    Rows that break the feature schema (e.g. unseen categories, missing values where training
    had none) are left out of the prediction; the note says how many.
    """
    if bundle is None:
        return Outputs(None, "the reference is a data file: no model outputs to compare", None)
    version = bundle.metadata.version
    if batch.predictions is not None:
        logged = batch.predictions
        mine = logged[logged["model_version"] == version].drop(columns="model_version")
        if mine.empty:
            return Outputs(None, f"no logged predictions of model {version}", None)
        note = (
            None
            if len(mine) == len(logged)
            else f"{len(mine)} of {len(logged)} logged rows come from model {version}"
        )
        return Outputs(mine.reset_index(drop=True), note, None)
    schema = bundle.schema
    if any(name not in batch.frame.columns for name in schema.feature_names):
        return Outputs(None, "the batch lacks feature columns: the model cannot predict", None)
    rows = batch.frame[_valid_rows(bundle, batch.frame)]
    if rows.empty:
        return Outputs(None, "no row of the batch follows the feature schema", None)
    try:
        predictions = bundle.predict(rows, skip_out_of_range=True)
    except SchemaError as error:
        return Outputs(None, f"the model cannot predict the batch: {error}", None)
    out_of_range = len(rows) - len(predictions)
    if predictions.empty:
        return Outputs(None, f"all {out_of_range} valid row(s) are out of range", None)
    skipped = {
        "out of the range the model can score": out_of_range,
        "break the feature schema": len(batch.frame) - len(rows),
    }
    rows = rows.loc[predictions.index]
    note = None
    if len(rows) < len(batch.frame):
        reasons = "; ".join(f"{count} {reason}" for reason, count in skipped.items() if count)
        note = f"predicted {len(rows)} of {len(batch.frame)} rows; {reasons}"
    return Outputs(predictions, note, rows)


def performance(
    bundle: ModelBundle | None, rows: pd.DataFrame | None, config: PerformanceConfig
) -> PerformanceReport:
    """Task metrics on labelled ``rows`` against the training metrics, with a tolerated drop."""
    if bundle is None or rows is None:
        return PerformanceReport(
            status="skipped",
            rows=0,
            reason="no labelled rows the model scored (a prediction log has no labels)",
        )
    target = bundle.metadata.target
    if target not in rows.columns:
        return PerformanceReport(
            status="skipped", rows=0, reason=f"the batch has no target column {target!r}"
        )
    labelled = rows[rows[target].notna()]
    if len(labelled) < config.min_rows:
        return PerformanceReport(
            status="skipped",
            rows=len(labelled),
            reason=f"{len(labelled)} labelled row(s), fewer than performance.min_rows "
            f"= {config.min_rows}",
        )
    try:
        current = score_model(
            bundle.model, bundle.schema.prepare(labelled), labelled[target], bundle.metadata.task
        )
    except ValueError as error:
        return PerformanceReport(
            status="skipped", rows=len(labelled), reason=f"cannot score the batch: {error}"
        )
    metrics = [
        _metric(name, baseline, current.get(name), config.tolerated_drop)
        for name, baseline in bundle.metadata.metrics.items()
        if not math.isnan(baseline)
    ]
    breached = any(metric.status == "alert" for metric in metrics)
    return PerformanceReport(
        status="alert" if breached else "ok", rows=len(labelled), metrics=metrics
    )


def _metric(name: str, baseline: float, current: float | None, drop: float) -> MetricReport:
    higher = name not in LOWER_IS_BETTER
    limit = baseline - drop * abs(baseline) if higher else baseline + drop * abs(baseline)
    if current is None or math.isnan(current):
        return MetricReport(
            name=name,
            baseline=baseline,
            current=None,
            limit=limit,
            higher_is_better=higher,
            status="skipped",
        )
    breached = current < limit if higher else current > limit
    return MetricReport(
        name=name,
        baseline=baseline,
        current=current,
        limit=limit,
        higher_is_better=higher,
        status="alert" if breached else "ok",
    )


def _valid_rows(bundle: ModelBundle, frame: pd.DataFrame) -> pd.Series:
    """Rows the schema accepts: no missing values where training had none, known categories."""
    keep = pd.Series(True, index=frame.index)
    for column in bundle.schema.columns:
        values = frame[column.name]
        if not column.nullable:
            keep &= values.notna()
        if column.kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce")
            keep &= numbers.notna() | values.isna()
            keep &= ~np.isinf(numbers.fillna(0.0))
        elif not bundle.schema.allow_unseen_categories:
            keep &= values.isna() | values.astype(str).isin(column.categories or [])
    return keep
