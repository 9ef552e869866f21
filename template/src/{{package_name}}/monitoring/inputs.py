"""The current batch: a CSV/Parquet file, or the serving prediction log over a time window."""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..core import PREDICTION_COLUMN, PROBABILITY_PREFIX, DataError, read_table

LOG_SUFFIX = ".jsonl"
#: What parsing a malformed log line raises: bad JSON or timestamp, a missing key, a non-object,
#: JSON nested too deeply.
MALFORMED = (ValueError, KeyError, TypeError, RecursionError)


@dataclass(frozen=True)
class CurrentBatch:
    """Rows to monitor; ``predictions`` only when they come from the prediction log."""

    source: Path
    frame: pd.DataFrame
    predictions: pd.DataFrame | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    skipped_lines: int = 0
    model_versions: dict[str, int] = field(default_factory=dict)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp; one without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"invalid timestamp {text!r}: use ISO 8601, e.g. 2025-01-31T00:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_current(
    path: Path, *, since: datetime | None = None, until: datetime | None = None
) -> CurrentBatch:
    """Read ``path``: ``.jsonl`` is a prediction log, ``.csv``/``.parquet`` a batch."""
    if path.suffix.lower() == LOG_SUFFIX:
        return read_prediction_log(path, since=since, until=until)
    if since is not None or until is not None:
        raise ValueError("--since/--until select a time window of a prediction log (.jsonl) only")
    return CurrentBatch(source=path, frame=read_table(path))


def read_prediction_log(
    path: Path, *, since: datetime | None = None, until: datetime | None = None
) -> CurrentBatch:
    """Records logged at ``since <= timestamp < until`` (either bound optional).

    Each line is a JSON object with ``timestamp``, ``model_version``, ``inputs`` (feature ->
    value), ``prediction`` and, for classifiers, ``probabilities`` (class -> probability).
    Lines that are not such objects (e.g. a line cut off by a crash) are skipped and counted.
    """
    if not path.is_file():
        raise DataError(f"prediction log not found: {path}")
    inputs: list[dict[str, object]] = []
    outputs: list[dict[str, object]] = []
    versions: Counter[str] = Counter()
    skipped = 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            record = _record(line)
            if record is None:
                skipped += 1
                continue
            moment, version, features, output = record
            if (since and moment < since) or (until and moment >= until):
                continue
            inputs.append(features)
            outputs.append(output | {"model_version": version})
            versions[version] += 1
    if not inputs:
        window = (
            f" between {since or 'the start'} and {until or 'the end'}" if since or until else ""
        )
        raise DataError(f"{path} has no prediction records{window} ({skipped} malformed line(s))")
    return CurrentBatch(
        source=path,
        frame=pd.DataFrame.from_records(inputs),
        predictions=pd.DataFrame.from_records(outputs),
        window_start=since,
        window_end=until,
        skipped_lines=skipped,
        model_versions=dict(versions),
    )


def _record(
    line: str,
) -> tuple[datetime, str, dict[str, object], dict[str, object]] | None:
    """Timestamp, model version, inputs and output columns of one log line, or None."""
    try:
        value = json.loads(line)
        moment = parse_timestamp(str(value["timestamp"]))
        features = value["inputs"]
        output = {PREDICTION_COLUMN: value["prediction"]}
    except MALFORMED:
        return None
    if not isinstance(features, dict):
        return None
    probabilities = value.get("probabilities") or {}
    if not isinstance(probabilities, dict):
        return None
    for label, probability in probabilities.items():
        output[f"{PROBABILITY_PREFIX}{label}"] = probability
    return moment, str(value.get("model_version", "")), features, output
