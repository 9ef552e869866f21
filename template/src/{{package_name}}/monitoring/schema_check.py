"""Compare a batch's columns with the feature schema: report, never crash."""

from collections.abc import Collection

import pandas as pd

from ..core import FeatureSchema
from .report import SchemaReport


def check_columns(
    schema: FeatureSchema, frame: pd.DataFrame, *, expected_extra: Collection[str] = ()
) -> SchemaReport:
    """Missing feature columns and numeric columns holding non-numbers alert; extras are listed.

    Values that cannot be read as numbers count as missing in the drift statistics.
    """
    missing = [name for name in schema.feature_names if name not in frame.columns]
    known = {*schema.feature_names, *expected_extra}
    extra = [str(name) for name in frame.columns if name not in known]
    problems = [f"column {name!r}: missing from the batch" for name in missing]
    for column in schema.columns:
        if column.kind != "numeric" or column.name not in frame.columns:
            continue
        values = frame[column.name]
        numbers = pd.to_numeric(values, errors="coerce")
        unreadable = int((numbers.isna() & values.notna()).sum())
        if unreadable:
            problems.append(
                f"column {column.name!r}: expected numbers (training dtype {column.dtype}), got "
                f"dtype {values.dtype} with {unreadable} value(s) that are not numbers; "
                "they count as missing"
            )
    return SchemaReport(
        status="alert" if problems else "ok",
        missing_columns=missing,
        extra_columns=extra,
        problems=problems,
    )
