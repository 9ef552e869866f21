"""One monitoring run: compare a batch with a reference, judge, record and report.

A run checks the batch's schema, feature drift, prediction drift (model outputs from the
prediction log or from predicting the batch), performance on labelled rows and alerting.
Live performance joins labels from the labels store to the logged predictions by id. When the
server also scores requests with a shadow model, the run reports how the shadow's answers
compare with the champion's (never judged).
"""

import logging
import math
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from ..core.bundle import ModelBundle, ModelMetadata
from ..core.card import LiveSummary, make_card, recorded_text, write_card
from ..core.metrics import LOWER_IS_BETTER, METRIC_NAMES, METRICS, Outcome, Task
from ..core.pipeline import PREDICTION_COLUMN, PROBABILITY_PREFIX
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
    CHAMPION_PREDICTION,
    CHAMPION_VERSION,
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
    ShadowComparison,
    ShadowMetric,
    ShadowPerformance,
    ShadowReport,
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
    card: bool = False,
) -> WrittenReport:
    """Load the inputs, run the monitoring and write ``report.json`` and ``report.html``.

    ``reference`` is a model directory, models root, registered version or data file (see
    :func:`load_reference`); ``current`` a batch file, prediction log or folder of logs, cut to
    ``since``/``until`` (ISO 8601 or a duration ago, e.g. 24h). The alert history is
    ``history`` (default: the history file in ``report_dir``). With ``labels`` (a labels
    store), performance is live: the logged predictions of ``performance.label_window``
    before ``until`` (or now) are scored on the labels that came back for their ids. Shadow
    records in the logs are compared with the champion's answers (see :func:`compare_shadow`).
    With ``card``, the model's card with this run's summary is written beside the report.

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
    if card and loaded.bundle is None:
        raise ValueError(
            f"--card writes the model's card, but the reference {reference} is a data file: "
            "pass a model (a version folder, a models root or a registered version)"
        )
    numeric = loaded.schema.numeric
    is_log = current.is_dir() or current.suffix.lower() == LOG_SUFFIX
    live_start = (end or now) - config.performance.label_window_length
    window = (live_start, end or now)
    if labels is None:
        read_from = start
        batch = read_current(current, since=start, until=end, numeric=numeric)
        live = None
    else:
        if not is_log:
            raise ValueError(
                "--labels joins labels to logged predictions: --current must be a prediction "
                f"log ({LOG_SUFFIX}) or a folder of logs, not {current}"
            )
        read_from = None if start is None else min(start, live_start)
        logged = read_current(current, since=read_from, until=end, numeric=numeric)
        batch = logged if start is None or start == read_from else logged.since(start)
        live = live_performance(loaded, logged, labels, config.performance, window)
    shadowed: CurrentBatch | None = None
    if is_log:
        with suppress(DataError):  # no shadow record in the window: no shadow block
            shadowed = read_current(
                current, since=read_from, until=end, numeric=numeric, shadow=True
            )
    shadow = None
    if shadowed is not None:
        shadow = compare_shadow(
            loaded, shadowed, config.performance, since=start, store=labels, window=window
        )
    report = run_monitoring(
        loaded,
        batch,
        config,
        history_path=history or report_dir / HISTORY_FILE,
        live=live,
        shadow=shadow,
    )
    paths = [write_report_json(report, report_dir), write_report_html(report, report_dir)]
    if card and loaded.bundle is not None:
        paths += write_current_card(loaded.bundle, report, report_dir)
    if report.status == "alert":
        logger.warning("%s", report.summary)
    return WrittenReport(report, paths)


def write_current_card(
    bundle: ModelBundle, report: MonitoringReport, directory: Path
) -> list[Path]:
    """Write ``bundle``'s card with ``report``'s drift and live performance into ``directory``."""
    performance = report.performance
    status = performance.status + (f" ({performance.reason})" if performance.reason else "")
    live = LiveSummary(
        generated_at=report.generated_at,
        status=report.status,
        summary=report.summary,
        drifted=[
            (column.name, column.status)
            for column in [*report.features, *report.predictions]
            if column.status != "ok"
        ],
        performance_status=status,
        performance_rows=performance.rows,
        metrics=[
            (metric.name, metric.baseline, metric.current, metric.limit)
            for metric in performance.metrics
        ],
    )
    text = recorded_text(bundle.metadata)
    files = make_card(bundle.metadata, bundle.profile, bundle.model, text, live=live)
    return write_card(files, directory, bundle=bundle.directory)


def run_monitoring(
    reference: Reference,
    batch: CurrentBatch,
    config: MonitoringConfig,
    *,
    history_path: Path,
    now: datetime | None = None,
    live: PerformanceReport | None = None,
    shadow: ShadowReport | None = None,
) -> MonitoringReport:
    """Compare ``batch`` with ``reference``, record the window in the history, and report.

    ``live`` is the live performance (see :func:`live_performance`); without it, performance
    is scored on the batch's own labelled rows. ``shadow`` (see :func:`compare_shadow`) is
    reported and summed up, never judged.
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
        )
        + "".join(f"; {line}" for line in shadow_summary(shadow)),
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
        shadow=shadow,
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
    joined, unknown = _join_labels((latest or _Latest.empty()).rows, read_labels(store), metadata)
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


def compare_shadow(
    reference: Reference,
    shadowed: CurrentBatch,
    config: PerformanceConfig,
    *,
    since: datetime | None = None,
    store: Path | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> ShadowReport | None:
    """How each shadow model's logged answers compare with the champion's, never judged.

    ``shadowed`` holds shadow records (``read_current(..., shadow=True)``); those from
    ``since`` on are compared per shadow and champion version: the share of equal classes, or
    the mean and 90th percentile of the absolute difference. With a labels ``store``, each id's
    latest shadow record from ``window`` (default: all of ``shadowed``) meets its latest label
    and both models are scored on those records, the champion on the answer the record logged
    for it. None when no shadow record is from ``since`` on.
    """
    try:
        compared = shadowed if since is None else shadowed.since(since)
    except DataError:
        return None
    if compared.predictions is None:
        raise ValueError("compare_shadow needs the shadow records of a prediction log")
    bundle = reference.bundle
    outputs = [str(name) for name in compared.predictions.columns]
    inferred: Task = (  # a data reference: only a classifier logs probabilities
        "classification"
        if any(name.startswith(PROBABILITY_PREFIX) for name in outputs)
        else "regression"
    )
    task = bundle.metadata.task if bundle is not None else inferred
    labels = read_labels(store) if store is not None else None
    live = None
    if labels is not None:
        with suppress(DataError):  # no shadow record in the label window: nothing labelled
            live = shadowed if window is None else shadowed.since(window[0])
    comparisons = []
    pairs = compared.predictions.groupby(["model_version", CHAMPION_VERSION], sort=True)
    for (version, champion), answers in pairs:
        comparison = _agreement(str(version), str(champion), answers, task)
        if labels is not None:
            scored = _shadow_performance(reference, live, comparison, labels, config)
            comparison = comparison.model_copy(update={"performance": scored})
        comparisons.append(comparison)
    return ShadowReport(task=task, comparisons=comparisons)


def shadow_summary(shadow: ShadowReport | None) -> list[str]:
    """A line per shadow version compared, e.g. ``shadow 3 agrees with champion 2 on 97.1% ...``."""
    lines = []
    for compared in shadow.comparisons if shadow is not None else []:
        models = f"shadow {compared.shadow_version}", f"champion {compared.champion_version}"
        records = f"{compared.records:,} records"
        if compared.agreement is not None:
            agreement = f"{100 * compared.agreement:.1f}%"
            lines.append(f"{models[0]} agrees with {models[1]} on {agreement} of {records}")
        elif compared.mean_abs_difference is not None and compared.p90_abs_difference is not None:
            lines.append(
                f"{models[0]} differs from {models[1]} by {compared.mean_abs_difference:.3g} on "
                f"average (p90 {compared.p90_abs_difference:.3g}) over {records}"
            )
        else:
            lines.append(f"{models[0]} has no answer to compare with {models[1]} in {records}")
    return lines


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


def _join_labels(
    rows: pd.DataFrame, labels: pd.DataFrame, metadata: ModelMetadata
) -> tuple[pd.DataFrame, int]:
    """``rows`` with their id's label as the target (missing if none or of an unknown class).

    Also returns how many labels name a class the model does not know.
    """
    joined = rows.merge(labels, how="left", on="id_key")
    if metadata.task == "classification":
        known = {str(label): label for label in metadata.classes}
        joined[metadata.target] = joined["label"].map(lambda text: known.get(str(text)))
        unknown = int((joined["label"].notna() & joined[metadata.target].isna()).sum())
    else:
        joined[metadata.target] = pd.to_numeric(joined["label"], errors="coerce")
        unknown = 0
    return joined, unknown


def _agreement(version: str, champion: str, answers: pd.DataFrame, task: Task) -> ShadowComparison:
    """How close the answers of shadow ``version`` are to those of ``champion``."""
    compared = ShadowComparison(
        shadow_version=version, champion_version=champion, records=len(answers)
    )
    if task == "classification":
        same = answers[PREDICTION_COLUMN] == answers[CHAMPION_PREDICTION]
        return compared.model_copy(update={"agreement": float(same.mean())})
    shadow, served = (
        pd.to_numeric(answers[name], errors="coerce").to_numpy(dtype="float64")
        for name in (PREDICTION_COLUMN, CHAMPION_PREDICTION)
    )
    differences = np.abs(shadow - served)
    differences = differences[~np.isnan(differences)]
    if not differences.size:  # no pair of numbers to compare
        return compared
    update = {
        "mean_abs_difference": float(differences.mean()),
        "p90_abs_difference": float(np.percentile(differences, 90)),
    }
    return compared.model_copy(update=update)


def _shadow_performance(
    reference: Reference,
    live: CurrentBatch | None,
    compared: ShadowComparison,
    labels: pd.DataFrame,
    config: PerformanceConfig,
) -> ShadowPerformance:
    """Metrics of the shadow and champion ``compared`` on the labelled ids of ``live``."""
    bundle = reference.bundle
    if bundle is None:
        reason = "the reference is a data file: scoring the shadow needs a model's target"
        return ShadowPerformance(labelled_rows=0, reason=reason)
    metadata = bundle.metadata
    version = compared.shadow_version
    latest = _latest_per_id(live, version) if live is not None else None
    if latest is None:
        reason = f"no shadow record of model {version} with ids in the label window"
        return ShadowPerformance(labelled_rows=0, reason=reason)
    rows = latest.rows[latest.rows[CHAMPION_VERSION] == compared.champion_version]
    joined, _ = _join_labels(rows, labels, metadata)
    labelled = joined[joined[metadata.target].notna()]
    cannot = _judgeable(metadata.classes, labelled[metadata.target], config, metadata.task)
    if cannot is not None:
        return ShadowPerformance(labelled_rows=len(labelled), reason=cannot.reason)
    truth = labelled[metadata.target]
    try:
        shadow = score_predictions(labelled, truth, metadata.task, metadata.classes)
        champion_scores = _champion_scores(labelled[CHAMPION_PREDICTION], truth, metadata)
    except ValueError as error:
        reason = f"cannot score the shadow records: {error}"
        return ShadowPerformance(labelled_rows=len(labelled), reason=reason)
    metrics = [
        ShadowMetric(
            name=name,
            shadow=_finite(shadow.get(name)),
            champion=_finite(champion_scores.get(name)),
            higher_is_better=name not in LOWER_IS_BETTER,
        )
        for name in METRIC_NAMES[metadata.task]
    ]
    return ShadowPerformance(labelled_rows=len(labelled), metrics=metrics)


def _champion_scores(
    answers: pd.Series, truth: pd.Series, metadata: ModelMetadata
) -> dict[str, float | None]:
    """The champion's metrics from the answers the shadow log kept for it.

    A classifier's answer is its class alone (read as a class of the model, like a label): the
    metrics of probabilities (e.g. ``roc_auc``) are None.
    """
    if metadata.task == "regression":
        values = answers.to_frame(PREDICTION_COLUMN).astype("float64")
        return dict(score_predictions(values, truth, "regression", []))
    known = {str(label): label for label in metadata.classes}  # as labels are read
    classes = answers.map(lambda answer: known.get(str(answer), answer))
    outcome = Outcome(truth.to_numpy(), classes.to_numpy(), None, np.asarray(metadata.classes))
    return {
        name: None if METRICS[name].needs_probabilities else METRICS[name].compute(outcome)
        for name in METRIC_NAMES["classification"]
    }


def _finite(value: float | None) -> float | None:
    """``value``, or None for a metric that could not be measured (NaN)."""
    return None if value is None or math.isnan(value) else value


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
