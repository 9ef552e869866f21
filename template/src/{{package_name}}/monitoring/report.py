"""``report.json``: every statistic, threshold and verdict of one monitoring run."""

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..core.data import write_text_atomically
from ..core.metrics import Task
from ..core.reports import REPORT_JSON, DriftStatus
from .config import MonitoringConfig

REPORT_FORMAT = 1

#: A statistic shown but never judged (``info``), or one without a value to judge (``skipped``).
Unjudged = Literal["info", "skipped"]
#: Verdict of one statistic: a drift status when it has thresholds, else why it has none.
StatisticStatus = DriftStatus | Unjudged
#: Verdict of the performance check and of each metric; ``skipped`` when not judged.
PerformanceStatus = Literal["ok", "alert", "skipped"]


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Statistic(_Report):
    """One statistic of one column, its thresholds and its verdict."""

    name: str
    value: float | None
    warn: float | None = None
    alert: float | None = None
    breach_when: Literal["above", "below"] | None = None
    status: StatisticStatus


class Bin(_Report):
    """Share of reference and current values in one bin (for the charts)."""

    label: str
    reference: float
    current: float | None


class ColumnReport(_Report):
    """Verdict on one input feature or model output."""

    name: str
    role: Literal["feature", "prediction"]
    kind: Literal["numeric", "categorical"]
    status: DriftStatus
    severity: float
    reasons: list[str]
    current_rows: int
    current_missing: int
    missing_share_reference: float
    missing_share_current: float | None
    statistics: list[Statistic]
    bins: list[Bin]


class SchemaReport(_Report):
    """How the batch's columns differ from the feature schema."""

    status: DriftStatus
    missing_columns: list[str]
    extra_columns: list[str]
    problems: list[str]


class MetricReport(_Report):
    """One task metric on the labelled batch against its training baseline."""

    name: str
    baseline: float
    current: float | None
    limit: float
    higher_is_better: bool
    status: PerformanceStatus


class LabelsInfo(_Report):
    """How labels from the store met the logged predictions of the live window."""

    store: str
    window_start: datetime | None
    window_end: datetime | None
    #: Logged predictions of the reference model with ids in the window (one per id).
    logged_rows: int
    labelled_rows: int
    coverage: float | None
    delay_median_seconds: float | None
    delay_p90_seconds: float | None
    #: Ids predicted more than once in the window: the latest prediction is the one scored.
    repeated_ids: int
    #: Labels of a class the model does not know: not scored.
    unknown_classes: int = 0


class PerformanceReport(_Report):
    """Task metrics on labelled rows (the batch's, or the labels store's) against training."""

    status: PerformanceStatus
    rows: int
    reason: str | None = None
    metrics: list[MetricReport] = []
    #: Where the baselines were measured: the rows that scored the model at training.
    baseline_from: str | None = None
    #: Where the labels came from: the batch's target column, or the labels store (live).
    source: Literal["batch", "labels"] = "batch"
    labels: LabelsInfo | None = None


class AlertingReport(_Report):
    """Whether this window breached, and whether that makes an alert (k of the last N)."""

    breached: bool
    alert: bool
    breaches: int
    windows: int
    required: int
    history: str


class ShadowMetric(_Report):
    """One task metric of the shadow model and of the champion on the same labelled records.

    None where it cannot be measured, e.g. the champion's ``roc_auc``: the shadow log keeps
    the champion's class, not its probabilities.
    """

    name: str
    shadow: float | None
    champion: float | None
    higher_is_better: bool


class ShadowPerformance(_Report):
    """Shadow and champion metrics on the labels of the live window; informational."""

    #: Ids whose latest shadow record of the window has a label (of a known class).
    labelled_rows: int
    #: Why there are no metrics, e.g. "cannot judge yet: ..." below ``live_min_rows``.
    reason: str | None = None
    metrics: list[ShadowMetric] = []


class ShadowComparison(_Report):
    """How one shadow model's answers compare with the champion's on the same requests."""

    shadow_version: str
    champion_version: str
    records: int
    #: Classification: the share of records where both models gave the same class.
    agreement: float | None = None
    #: Regression: the mean and 90th percentile of ``|shadow - champion|``.
    mean_abs_difference: float | None = None
    p90_abs_difference: float | None = None
    #: With a labels store only.
    performance: ShadowPerformance | None = None


class ShadowReport(_Report):
    """The shadow log of the window, per shadow and champion version; never judged."""

    task: Task
    comparisons: list[ShadowComparison]


class ReferenceInfo(_Report):
    """What the batch was compared with."""

    source: str
    model_version: str | None
    rows: int
    #: The rows whose model outputs are the prediction reference (None for a data reference).
    predictions_from: str | None = None


class CurrentInfo(_Report):
    """The batch that was monitored."""

    source: str
    rows: int
    window_start: datetime | None
    window_end: datetime | None
    skipped_lines: int
    model_versions: dict[str, int]


class MonitoringReport(_Report):
    """Everything one monitoring run found."""

    format_version: int = REPORT_FORMAT
    generated_at: datetime
    status: DriftStatus
    summary: str
    reference: ReferenceInfo
    current: CurrentInfo
    config: MonitoringConfig
    schema_check: SchemaReport
    features: list[ColumnReport]
    predictions: list[ColumnReport]
    prediction_note: str | None
    performance: PerformanceReport
    alerting: AlertingReport
    #: The shadow model's answers in the window (None without shadow records); informational.
    shadow: ShadowReport | None = None


def write_report_json(report: MonitoringReport, directory: Path) -> Path:
    """Write ``report.json`` under ``directory``."""
    return write_text_atomically(directory / REPORT_JSON, report.model_dump_json(indent=2) + "\n")
