"""One monitoring run: schema, feature drift, prediction drift, performance, alerting."""

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..core import PROBABILITY_PREFIX, CategoricalProfile, NumericProfile
from .config import MonitoringConfig
from .findings import categorical_findings, numeric_findings
from .history import Window, record_window
from .inputs import CurrentBatch
from .outputs import model_outputs, performance
from .reference import ColumnProfile, Reference
from .report import (
    ColumnReport,
    CurrentInfo,
    MonitoringReport,
    ReferenceInfo,
    Status,
)
from .schema_check import check_columns
from .verdicts import ColumnFindings, judge


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
    features = judge(_findings(present, values, "feature", config), config.drift)
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
        found = _findings(columns, produced_values, "prediction", config)
        predictions = judge(found, config.drift)
    scored = performance(reference.bundle, outputs.scorable, config.performance)
    breached = (
        schema.status == "alert"
        or scored.status == "alert"
        or any(column.status == "alert" for column in [*features, *predictions])
    )
    window = Window(generated_at=generated_at, current=str(batch.source), breached=breached)
    alerting = record_window(history_path, window, config.alerting)
    warned = any(column.status == "warn" for column in [*features, *predictions])
    status: Status = "alert" if alerting.alert else "warn" if breached or warned else "ok"
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


def _findings(
    profiles: dict[str, ColumnProfile],
    values: dict[str, pd.Series],
    role: str,
    config: MonitoringConfig,
) -> list[ColumnFindings]:
    """Numeric columns together, then each categorical column."""
    epsilon = config.drift.psi_epsilon
    numeric = {name: p for name, p in profiles.items() if isinstance(p, NumericProfile)}
    found = numeric_findings(numeric, values, role=role, epsilon=epsilon)
    for name, profile in profiles.items():
        if isinstance(profile, CategoricalProfile):
            found.append(
                categorical_findings(name, profile, values[name], role=role, epsilon=epsilon)
            )
    return found


def _summary(
    status: Status,
    features: list[ColumnReport],
    predictions: list[ColumnReport],
    problems: list[str],
    performance_status: str,
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
