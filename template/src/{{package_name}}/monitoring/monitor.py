"""One monitoring run: compare a batch with a reference, judge, record and report.

A run checks the batch's schema, feature drift, prediction drift (model outputs from the
prediction log or from predicting the batch), performance on labelled rows and alerting.
"""

import logging
import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from ..core.bundle import ModelBundle
from ..core.metrics import LOWER_IS_BETTER
from ..core.pipeline import PROBABILITY_PREFIX
from ..core.reports import DriftStatus
from ..core.schema import SchemaError
from ..core.training import score_predictions
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
    parse_window_bound,
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
from .verdicts import HISTORY_FILE, Window, column_findings, judge_findings, record_window

logger = logging.getLogger(__name__)

#: Fewer rows than this are predicted on one OpenMP thread (see :func:`openmp_threads_for`).
SINGLE_THREAD_ROWS = 10_000
IN_SAMPLE_NOTE = (
    "the prediction reference holds the model's outputs on its own training rows (a model "
    "trained before 0.11.0): prediction columns may alert on data like the training data; "
    "retrain to profile outputs on unseen rows"
)


@dataclass(frozen=True)
class WrittenReport:
    """A finished monitoring run and the report files it wrote."""

    report: MonitoringReport
    paths: list[Path]

    @property
    def alert(self) -> bool:
        """Whether the run alerts (the ``monitor`` command exits 1)."""
        return self.report.status == "alert"


def monitor_batch(
    reference: str | Path,
    current: Path,
    *,
    report_dir: Path,
    config_path: Path = DEFAULT_MONITORING_CONFIG,
    history: Path | None = None,
    since: str | None = None,
    until: str | None = None,
    target: str = "target",
    allow_version_mismatch: bool = False,
) -> WrittenReport:
    """Load the inputs, run the monitoring and write ``report.json`` and ``report.html``.

    ``reference`` is a model directory, models root, registered version or data file (see
    :func:`load_reference`); ``current`` a batch file, prediction log or folder of logs, cut to
    ``since``/``until`` (ISO 8601 or a duration ago, e.g. 24h). The alert history is
    ``history`` (default: the history file in ``report_dir``).

    Raises:
        ValueError: for bad input: an invalid config, window or reference, an unreadable batch.
    """
    config = load_monitoring_config(config_path)
    start = parse_window_bound(since) if since is not None else None
    end = parse_window_bound(until) if until is not None else None
    if start and end and start >= end:
        raise ValueError(f"--since {since} must be before --until {until}")
    loaded = load_reference(reference, target=target, allow_version_mismatch=allow_version_mismatch)
    batch = read_current(current, since=start, until=end, numeric=loaded.schema.numeric)
    report = run_monitoring(
        loaded, batch, config, history_path=history or report_dir / HISTORY_FILE
    )
    paths = [write_report_json(report, report_dir), write_report_html(report, report_dir)]
    if report.status == "alert":
        logger.warning("%s", report.summary)
    return WrittenReport(report, paths)


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
    found = column_findings(present, values, role="feature", epsilon=config.drift.psi_epsilon)
    outputs = model_outputs(reference.bundle, batch)
    notes = [outputs.note] if outputs.note else []
    profile = reference.bundle.profile if reference.bundle else None
    if profile is not None and outputs.predictions is not None:
        if profile.predictions_in_sample:
            notes.append(IN_SAMPLE_NOTE)
        produced = outputs.predictions
        columns: dict[str, ColumnProfile] = {"prediction": profile.prediction}
        probabilities = list(profile.probabilities.items())
        # With two classes the first probability is one minus the second: test it once.
        for label, probability in probabilities[-1:] if len(probabilities) == 2 else probabilities:
            if f"{PROBABILITY_PREFIX}{label}" in produced.columns:
                columns[f"{PROBABILITY_PREFIX}{label}"] = probability
        produced_values = {str(name): column for name, column in produced.items()}
        found += column_findings(
            columns, produced_values, role="prediction", epsilon=config.drift.psi_epsilon
        )
    judged = judge_findings(found, config.drift)
    features = [column for column in judged if column.role == "feature"]
    predictions = [column for column in judged if column.role == "prediction"]
    scored = performance(reference.bundle, outputs, config.performance)
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
            source=str(reference.source),
            model_version=reference.model_version,
            rows=reference.rows,
            predictions_from=profile.predictions_from if profile else None,
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
        prediction_note="; ".join(notes) or None,
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
        # Logged rows that carry their label are scored like the model's own predictions.
        labelled = bundle.metadata.target in batch.frame.columns
        rows = batch.frame.loc[mine.index].reset_index(drop=True) if labelled else None
        return Outputs(mine.reset_index(drop=True), note, rows)
    schema = bundle.schema
    if any(name not in batch.frame.columns for name in schema.feature_names):
        return Outputs(None, "the batch lacks feature columns: the model cannot predict", None)
    valid = _valid_rows(bundle, batch.frame)
    rows = batch.frame if valid.all() else batch.frame[valid]
    if rows.empty:
        return Outputs(None, "no row of the batch follows the feature schema", None)
    try:
        with openmp_threads_for(len(rows)):
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
    if not predictions.index.equals(rows.index):
        rows = rows.loc[predictions.index]
    note = None
    if len(rows) < len(batch.frame):
        reasons = "; ".join(f"{count} {reason}" for reason, count in skipped.items() if count)
        note = f"predicted {len(rows)} of {len(batch.frame)} rows; {reasons}"
    return Outputs(predictions, note, rows)


def openmp_threads_for(rows: int) -> AbstractContextManager[object]:
    """One OpenMP thread for work on fewer than :data:`SINGLE_THREAD_ROWS` rows, else as set.

    For predicting: predictions are the same with any number of threads (each row is scored
    on its own); on a few hundred rows threads only cost (on a busy 2-core machine a
    HistGradientBoosting model predicted 300 rows in 10-60 ms of CPU with two threads, 2.4 ms
    with one).
    """
    if rows >= SINGLE_THREAD_ROWS:
        return nullcontext()
    limited: AbstractContextManager[object] = _thread_controller().limit(
        limits=1, user_api="openmp"
    )
    return limited


@cache
def _thread_controller() -> Any:
    """The thread pools loaded in this process (OpenMP, BLAS), found once."""
    return ThreadpoolController()


def performance(
    bundle: ModelBundle | None, outputs: Outputs, config: PerformanceConfig
) -> PerformanceReport:
    """Task metrics of the outputs on labelled rows against the training metrics.

    The training metrics were measured on rows the model did not fit (hold-out rows or
    cross-validation folds, as ``metadata.evaluation`` says), like the rows scored here.
    """
    rows, predictions = outputs.scorable, outputs.predictions
    if bundle is None or rows is None or predictions is None:
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
    has_label = rows[target].notna()
    labelled = rows if has_label.all() else rows[has_label]
    if len(labelled) < config.min_rows:
        return PerformanceReport(
            status="skipped",
            rows=len(labelled),
            reason=f"{len(labelled)} labelled row(s), fewer than performance.min_rows "
            f"= {config.min_rows}",
        )
    try:
        current = score_predictions(
            predictions
            if predictions.index.equals(labelled.index)
            else predictions.loc[labelled.index],
            labelled[target],
            bundle.metadata.task,
            bundle.metadata.classes,
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
        status="alert" if breached else "ok",
        rows=len(labelled),
        metrics=metrics,
        baseline_from=bundle.metadata.evaluation,
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


def _valid_rows(bundle: ModelBundle, frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows the schema accepts: no missing values where training had none, known categories."""
    keep = np.ones(len(frame), dtype=bool)
    for column in bundle.schema.columns:
        values = frame[column.name]
        plain = isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiu"
        raw = values.to_numpy() if plain else None
        missing = np.isnan(raw) if raw is not None and raw.dtype.kind == "f" else None
        if missing is None:
            missing = values.isna().to_numpy(dtype=bool)
        if not column.nullable:
            keep &= ~missing
        if column.kind == "numeric":
            if raw is not None:  # plain numbers: only infinities are not scorable
                keep &= ~np.isinf(raw)
                continue
            numbers = pd.to_numeric(values, errors="coerce")
            keep &= numbers.notna().to_numpy(dtype=bool) | missing
            keep &= ~np.asarray(np.isinf(numbers.fillna(0.0)), dtype=bool)
        elif not bundle.schema.allow_unseen_categories:
            known = values.astype(str).isin(column.categories or [])
            keep &= missing | known.to_numpy(dtype=bool)
    return keep
