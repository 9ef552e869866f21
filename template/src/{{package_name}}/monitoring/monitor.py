"""One monitoring run: compare a batch with a reference, judge, record and report.

A run checks the batch's schema, feature drift, prediction drift (model outputs from the
prediction log or from predicting the batch), performance on labelled rows and alerting.
Live performance joins labels from the labels store to the logged predictions by id.
"""

import logging
import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from ..core.bundle import ModelBundle
from ..core.metrics import LOWER_IS_BETTER
from ..core.pipeline import PROBABILITY_PREFIX
from ..core.reports import DriftStatus
from ..core.schema import DataError, SchemaError
from ..core.training import score_predictions
from .config import (
    DEFAULT_MONITORING_CONFIG,
    MonitoringConfig,
    PerformanceConfig,
    load_monitoring_config,
)
from .html_report import write_report_html
from .inputs import (
    LOG_SUFFIX,
    CurrentBatch,
    Reference,
    check_columns,
    load_reference,
    parse_window_bound,
    read_current,
)
from .labels import read_labels
from .report import (
    ColumnReport,
    CurrentInfo,
    LabelsInfo,
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
    labels: Path | None = None,
) -> WrittenReport:
    """Load the inputs, run the monitoring and write ``report.json`` and ``report.html``.

    ``reference`` is a model directory, models root, registered version or data file (see
    :func:`load_reference`); ``current`` a batch file, prediction log or folder of logs, cut to
    ``since``/``until`` (ISO 8601 or a duration ago, e.g. 24h). The alert history is
    ``history`` (default: the history file in ``report_dir``). With ``labels`` (a labels
    store), performance is live: the logged predictions of ``performance.label_window``
    before ``until`` (or now) are scored on the labels that came back for their ids.

    Raises:
        ValueError: for bad input: an invalid config, window or reference, an unreadable batch.
    """
    config = load_monitoring_config(config_path)
    now = datetime.now(UTC)
    start = parse_window_bound(since, now) if since is not None else None
    end = parse_window_bound(until, now) if until is not None else None
    if start and end and start >= end:
        raise ValueError(f"--since {since} must be before --until {until}")
    loaded = load_reference(reference, target=target, allow_version_mismatch=allow_version_mismatch)
    numeric = loaded.schema.numeric
    if labels is None:
        batch = read_current(current, since=start, until=end, numeric=numeric)
        live = None
    else:
        if not (current.is_dir() or current.suffix.lower() == LOG_SUFFIX):
            raise ValueError(
                "--labels joins labels to logged predictions: --current must be a prediction "
                f"log ({LOG_SUFFIX}) or a folder of logs, not {current}"
            )
        live_start = (end or now) - config.performance.label_window_length
        read_from = None if start is None else min(start, live_start)
        logged = read_current(current, since=read_from, until=end, numeric=numeric)
        batch = logged if start is None or start == read_from else logged.since(start)
        window = (live_start, end or now)
        live = live_performance(loaded, logged, labels, config.performance, window)
    report = run_monitoring(
        loaded, batch, config, history_path=history or report_dir / HISTORY_FILE, live=live
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
    live: PerformanceReport | None = None,
) -> MonitoringReport:
    """Compare ``batch`` with ``reference``, record the window in the history, and report.

    ``live`` is the live performance (see :func:`live_performance`); without it, performance
    is scored on the batch's own labelled rows.
    """
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
    scored = live or performance(reference.bundle, outputs, config.performance)
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


def live_performance(
    reference: Reference,
    logged: CurrentBatch,
    store: Path,
    config: PerformanceConfig,
    window: tuple[datetime, datetime],
) -> PerformanceReport:
    """Task metrics of the reference model's logged predictions in ``window`` with a label.

    Each id's latest prediction in the window meets its latest label in ``store``; below
    ``live_min_rows`` labelled rows, or ``min_rows_per_class`` of a class, it cannot judge yet.
    """
    bundle = reference.bundle
    if bundle is None:
        reason = "the reference is a data file: live performance needs a model"
        return PerformanceReport(status="skipped", rows=0, reason=reason, source="labels")
    metadata = bundle.metadata
    try:
        rows = logged.since(window[0])
    except DataError:
        rows = None
    latest = _latest_per_id(rows, metadata.version) if rows is not None else None
    joined = (latest or _Latest.empty()).rows.merge(read_labels(store), how="left", on="id_key")
    if metadata.task == "classification":
        known = {str(label): label for label in metadata.classes}
        joined[metadata.target] = joined["label"].map(lambda text: known.get(str(text)))
        unknown = int((joined["label"].notna() & joined[metadata.target].isna()).sum())
    else:
        joined[metadata.target] = pd.to_numeric(joined["label"], errors="coerce")
        unknown = 0
    labelled = joined[joined[metadata.target].notna()]
    delays = (labelled["label_time"] - labelled["logged_at"]).dt.total_seconds().to_numpy()
    info = LabelsInfo(
        store=str(store),
        window_start=window[0],
        window_end=window[1],
        logged_rows=len(joined),
        labelled_rows=len(labelled),
        coverage=len(labelled) / len(joined) if len(joined) else None,
        delay_median_seconds=float(np.median(delays)) if len(delays) else None,
        delay_p90_seconds=float(np.percentile(delays, 90)) if len(delays) else None,
        repeated_ids=latest.repeated_ids if latest else 0,
        unknown_classes=unknown,
    )
    report = _judgeable(metadata.classes, labelled[metadata.target], config, metadata.task)
    if report is None and latest is not None:
        outputs = Outputs(joined[latest.output_columns], None, joined)
        report = performance(bundle, outputs, config)
    if report is None or latest is None:
        why = f"no logged prediction of model {metadata.version} with ids in the label window"
        report = PerformanceReport(status="skipped", rows=0, reason=why)
    return report.model_copy(update={"source": "labels", "labels": info})


@dataclass(frozen=True)
class _Latest:
    """Each id's latest logged row (features, outputs, ``id_key``, ``logged_at``)."""

    rows: pd.DataFrame
    output_columns: list[str]
    #: Ids logged more than once.
    repeated_ids: int

    @classmethod
    def empty(cls) -> Self:
        """No row."""
        frame = pd.DataFrame({"id_key": pd.Series(dtype=object)})
        frame["logged_at"] = pd.Series(dtype="datetime64[ns, UTC]")
        return cls(frame, [], 0)


def _latest_per_id(batch: CurrentBatch, version: str) -> _Latest | None:
    """The rows of model ``version`` with ids, the latest per id; None if none has ids."""
    if batch.ids is None or batch.predictions is None or batch.timestamps is None:
        return None
    mask = (batch.ids.notna() & (batch.predictions["model_version"] == version)).to_numpy()
    if not mask.any():
        return None
    outputs = batch.predictions.drop(columns="model_version")
    parts = [batch.frame, outputs, batch.ids.rename("id_key"), batch.timestamps.rename("logged_at")]
    ordered = pd.concat(parts, axis=1)[mask].sort_values("logged_at", kind="stable")
    latest = ordered.drop_duplicates("id_key", keep="last").reset_index(drop=True)
    repeated = int((ordered["id_key"].value_counts() > 1).sum())
    return _Latest(latest, list(outputs.columns), repeated)


def _judgeable(
    classes: list[int | float | str], labels: pd.Series, config: PerformanceConfig, task: str
) -> PerformanceReport | None:
    """None when enough rows (and rows per class) are labelled, else why it cannot judge yet."""
    if len(labels) < config.live_min_rows:
        reason = (
            f"cannot judge yet: {len(labels)} labelled row(s), fewer than "
            f"performance.live_min_rows = {config.live_min_rows}"
        )
        return PerformanceReport(status="skipped", rows=len(labels), reason=reason)
    if task == "classification":
        counts = labels.value_counts()
        per_class = {str(label): int(counts.get(label, 0)) for label in classes}
        short = {label: n for label, n in per_class.items() if n < config.min_rows_per_class}
        if short:
            reason = (
                f"cannot judge yet: labelled rows per class {short}, fewer than "
                f"performance.min_rows_per_class = {config.min_rows_per_class}"
            )
            return PerformanceReport(status="skipped", rows=len(labels), reason=reason)
    return None


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
