"""Model outputs and labels of a batch: predictions to check for drift, metrics to compare."""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import ModelBundle, SchemaError, score_model
from .config import PerformanceConfig
from .inputs import CurrentBatch
from .report import MetricReport, PerformanceReport

#: Metrics where a lower value is better; every other task metric is better higher.
LOWER_IS_BETTER = frozenset({"rmse", "mae"})


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
