"""The inputs of a run: the reference, the current batch, and how the batch fits the schema.

The reference is a saved model's profile or a data file; the current batch is a CSV/Parquet
file or the serving prediction log over a time window. In a project that tracks with MLflow,
a reference model may be a registered version (``models:/<name>@<alias>``), fetched from
``MLFLOW_TRACKING_URI`` and verified first.
"""

import contextlib
import json
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Self

import pandas as pd

from ..core.bundle import ModelBundle, load_bundle
from ..core.config import DURATION
from ..core.config import parse_duration as parse_duration  # re-exported: prune-logs reads it
from ..core.data import SUFFIXES, read_table, require_file, shadow_log_path
from ..core.models import is_model_uri, open_model
from ..core.pipeline import PREDICTION_COLUMN, PROBABILITY_PREFIX
from ..core.profile import profile_column
from ..core.schema import ID_SEPARATOR, DataError, FeatureSchema, infer_schema
from .report import SchemaReport
from .statistics import ColumnProfile

LOG_SUFFIX = ".jsonl"
#: The log files of a directory: each server replica's log and its rotated backup, in the
#: directory itself or in a folder per replica one level down.
LOG_PATTERNS = tuple(
    f"{folder}*{LOG_SUFFIX}{backup}" for folder in ("", "*/") for backup in ("", ".1")
)
#: The shortest retention ``prune_logs`` takes: shorter, it would delete logs being written.
MIN_RETENTION = timedelta(hours=1)
#: What parsing a malformed log line raises: bad JSON or timestamp, a missing key, a non-object,
#: JSON nested too deeply.
MALFORMED = (ValueError, KeyError, TypeError, RecursionError)
#: The key of a shadow log line: the served (champion) model's version and prediction.
SHADOW_KEY = "shadow"
#: Bytes every shadow line holds: reading shadow lines parses no line without them.
_SHADOW_MARK = f'"{SHADOW_KEY}"'.encode()
#: The columns a shadow batch's ``predictions`` add: what the champion answered the request.
CHAMPION_PREDICTION, CHAMPION_VERSION = "champion_prediction", "champion_version"


@dataclass(frozen=True)
class Reference:
    """Feature schema and profiles, plus the model when the reference is one."""

    source: Path | str  # str: a registered version's URI
    schema: FeatureSchema
    features: Mapping[str, ColumnProfile]
    rows: int
    bundle: ModelBundle | None = None

    @classmethod
    def of_bundle(cls, bundle: ModelBundle) -> Self:
        """The reference a saved model carries: its schema and training profile."""
        return cls(
            source=bundle.directory,
            schema=bundle.schema,
            features=bundle.profile.features,
            rows=bundle.profile.rows,
            bundle=bundle,
        )

    @property
    def model_version(self) -> str | None:
        """Version of the reference model, if any."""
        return self.bundle.metadata.version if self.bundle else None

    @property
    def target(self) -> str | None:
        """Target column of the reference model, if any."""
        return self.bundle.metadata.target if self.bundle else None


def load_reference(
    path: Path | str, *, target: str = "target", allow_version_mismatch: bool = False
) -> Reference:
    """A model directory or models root (its latest good model), registered version or data.

    A registered version (``models:/<name>@<alias>`` or ``models:/<name>/<n>``, in a project
    that tracks with MLflow) is fetched from ``MLFLOW_TRACKING_URI`` (default
    ``sqlite:///mlflow.db``) and its digests checked before it is loaded. A data file
    (CSV/Parquet) is profiled on the fly: every column except ``target`` is a feature, and
    there is no model, so prediction drift and performance are not judged.
    """
    if is_model_uri(path):
        with open_model(path, allow_version_mismatch=allow_version_mismatch) as opened:
            reference = load_reference(opened.folder, allow_version_mismatch=allow_version_mismatch)
        return replace(reference, source=str(path))
    path = Path(path)
    if path.suffix.lower() in SUFFIXES:
        frame = read_table(path)
        features = frame.drop(columns=[target], errors="ignore")
        schema = infer_schema(features)
        profiles = {
            column.name: profile_column(features[column.name], column.kind)
            for column in schema.columns
        }
        return Reference(source=path, schema=schema, features=profiles, rows=len(frame))
    return Reference.of_bundle(load_bundle(path, allow_version_mismatch=allow_version_mismatch))


@dataclass(frozen=True)
class CurrentBatch:
    """Rows to monitor; ``predictions`` only when they come from the prediction log.

    A shadow batch (read with ``shadow=True``) holds the shadow model's lines: its
    ``predictions`` add the champion's answer to each request (:data:`CHAMPION_PREDICTION`,
    :data:`CHAMPION_VERSION`).
    """

    source: Path
    frame: pd.DataFrame
    predictions: pd.DataFrame | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    skipped_lines: int = 0
    model_versions: dict[str, int] = field(default_factory=dict)
    #: Prediction log only: when each row was logged, and its ids (None where it has none).
    timestamps: pd.Series | None = None
    ids: pd.Series | None = None

    def since(self, start: datetime) -> Self:
        """The rows logged at ``start`` or later (a prediction log's batch only).

        Raises:
            DataError: when no row is that recent.
        """
        if self.timestamps is None:
            raise ValueError("only a prediction log's rows have timestamps")
        keep = (self.timestamps >= start).to_numpy(dtype=bool)
        if not keep.any():
            raise DataError(f"{self.source} has no prediction records since {start}")
        if keep.all():
            return replace(self, window_start=start)
        predictions = self.predictions
        kept = predictions[keep].reset_index(drop=True) if predictions is not None else None
        versions = Counter(kept["model_version"]) if kept is not None else Counter[str]()
        return replace(
            self,
            frame=self.frame[keep].reset_index(drop=True),
            predictions=kept,
            window_start=start,
            model_versions={str(version): count for version, count in versions.items()},
            timestamps=self.timestamps[keep].reset_index(drop=True),
            ids=self.ids[keep].reset_index(drop=True) if self.ids is not None else None,
        )


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp; one without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"invalid timestamp {text!r}: use ISO 8601, e.g. 2025-01-31T00:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_window_bound(text: str, now: datetime | None = None) -> datetime:
    """A ``--since``/``--until`` bound: ISO 8601, or a duration back from now (24h, 30m, 7d)."""
    if DURATION.fullmatch(text) is not None:
        return (now or datetime.now(UTC)) - parse_duration(text)
    try:
        return parse_timestamp(text)
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: use ISO 8601 (e.g. 2025-01-31T00:00:00Z) or a duration "
            "back from now: a number and s, m, h or d (e.g. 24h)"
        ) from None


def read_current(
    path: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    numeric: Collection[str] = (),
    shadow: bool = False,
) -> CurrentBatch:
    """Read ``path``: ``.jsonl`` is a prediction log, ``.csv``/``.parquet`` a batch.

    A directory holds prediction logs, e.g. one per server replica on a shared volume, with
    their rotated ``.jsonl.1`` backups: they are read together. A log line whose ``numeric``
    features hold a JSON boolean is malformed, like any line that cannot be read. Shadow lines
    (a shadow model's predictions, with a ``shadow`` object) are left out, or, with ``shadow``,
    are the only lines read: for one log file, from the shadow log beside it if there is one.
    """
    if path.is_dir() or path.suffix.lower() == LOG_SUFFIX:
        logs = log_files(path) if path.is_dir() else [path]
        if shadow and not path.is_dir() and shadow_log_path(path).is_file():
            logs = [shadow_log_path(path)]  # the server's shadow log beside this one
        if not logs:
            raise DataError(f"{path} holds no prediction logs ({', '.join(LOG_PATTERNS)})")
        return _read_prediction_log(
            path, logs, since=since, until=until, numeric=numeric, shadow=shadow
        )
    if not path.suffix and not path.exists():
        raise DataError(f"{path} not found: expected a directory of prediction logs or a file")
    if since is not None or until is not None:
        raise ValueError("--since/--until select a time window of a prediction log (.jsonl) only")
    if shadow:
        raise ValueError(f"{path} is not a prediction log: it holds no shadow lines")
    return CurrentBatch(source=path, frame=read_table(path))


def prune_logs(folder: Path, older_than: timedelta, *, now: datetime | None = None) -> list[Path]:
    """Delete the prediction logs in ``folder`` last written more than ``older_than`` ago.

    A log is one server replica's file (or its rotated backup), in ``folder`` or in the
    replica's own folder one level down (removed once empty): a replica that is gone stops
    writing it, so its age is that of its newest record. Files that do not start with a
    prediction record, symbolic links and linked folders are left alone; a ``folder`` that
    does not exist yet (no replica has logged) holds nothing to delete. Returns the deleted
    files.

    Raises:
        DataError: when ``folder`` exists but is not a directory.
        ValueError: for a retention shorter than :data:`MIN_RETENTION`.
    """
    if older_than < MIN_RETENTION:
        raise ValueError(
            f"a retention of {older_than} would delete logs that live replicas still write: "
            f"keep logs at least {MIN_RETENTION}"
        )
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise DataError(f"{folder} is not a directory of prediction logs")
    cutoff = (now or datetime.now(UTC)) - older_than
    stale = [
        log
        for log in log_files(folder)
        if log.is_file()
        and not log.is_symlink()
        and not log.parent.is_symlink()  # a linked folder may lead anywhere
        and datetime.fromtimestamp(log.stat().st_mtime, UTC) < cutoff
        and _is_prediction_log(log)
    ]
    for log in stale:
        log.unlink(missing_ok=True)
    for replica in {log.parent for log in stale} - {folder}:  # a gone replica's own folder
        with contextlib.suppress(OSError):  # still holds something: kept
            replica.rmdir()
    return stale


def logged_ids(path: Path) -> set[str]:
    """The id keys of every readable record in the prediction logs at ``path`` (a file or folder).

    Only the ids are kept, so the logs of weeks fit in memory where their inputs would not.
    """
    keys: set[str] = set()
    for log in log_files(path) if path.is_dir() else [path]:
        require_file(log, "prediction log")
        with log.open("rb") as lines:
            for line in lines:
                record = _record(line, ()) if line.strip() else None
                if record is not None and record.shadow is None and record.key is not None:
                    keys.add(record.key)
    return keys


def log_files(folder: Path) -> list[Path]:
    """The prediction logs of ``folder`` and of its folders one level down, sorted."""
    return sorted({log for pattern in LOG_PATTERNS for log in folder.glob(pattern)})


def _is_prediction_log(path: Path) -> bool:
    """Whether ``path`` is empty or starts with a prediction record (not another .jsonl file).

    A shadow log (starting with a shadow record) is the server's too, so it counts as one.
    """
    with path.open("rb") as lines:
        first = lines.readline(64 * 1024)
    return not first.strip() or _record(first, ()) is not None


def _read_prediction_log(
    path: Path,
    logs: list[Path],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    numeric: Collection[str] = (),
    shadow: bool = False,
) -> CurrentBatch:
    """Records of ``logs`` logged at ``since <= timestamp < until`` (either bound optional).

    Each line is a JSON object with ``timestamp``, ``model_version``, ``inputs`` (feature ->
    value), ``prediction`` and, for classifiers, ``probabilities`` (class -> probability).
    Lines that are not such objects (e.g. a line cut off by a crash, or not UTF-8) are skipped
    and counted. A shadow line also has ``shadow`` (``champion_version``,
    ``champion_prediction``): only those are read with ``shadow`` (malformed lines counted
    among those naming ``shadow``), only the others without.
    """
    inputs: list[dict[str, object]] = []
    outputs: list[dict[str, object]] = []
    moments: list[datetime] = []
    keys: list[str | None] = []
    versions: Counter[str] = Counter()
    skipped = 0
    for log in logs:
        require_file(log, "prediction log")
        with log.open("rb") as lines:
            for line in lines:
                if not line.strip() or (shadow and _SHADOW_MARK not in line):
                    continue
                record = _record(line, numeric)
                if record is None:
                    skipped += 1
                    continue
                if (record.shadow is not None) != shadow:
                    continue
                moment, version = record.moment, record.version
                if (since and moment < since) or (until and moment >= until):
                    continue
                inputs.append(record.features)
                outputs.append(record.output | {"model_version": version} | (record.shadow or {}))
                moments.append(moment)
                keys.append(record.key)
                versions[version] += 1
    if not inputs:
        window = (
            f" between {since or 'the start'} and {until or 'the end'}" if since or until else ""
        )
        kind = "shadow prediction" if shadow else "prediction"
        raise DataError(f"{path} has no {kind} records{window} ({skipped} malformed line(s))")
    return CurrentBatch(
        source=path,
        frame=pd.DataFrame.from_records(inputs),
        predictions=pd.DataFrame.from_records(outputs),
        window_start=since,
        window_end=until,
        skipped_lines=skipped,
        model_versions=dict(versions),
        timestamps=pd.Series(pd.to_datetime(moments, utc=True)),
        ids=pd.Series(keys, dtype=object),
    )


class _LogRecord(NamedTuple):
    """One readable log line."""

    moment: datetime
    version: str
    features: dict[str, object]
    output: dict[str, object]
    #: The record's ids joined as :func:`~..core.schema.id_keys` does; None without ids.
    key: str | None
    #: A shadow line's champion columns (:data:`CHAMPION_VERSION`, :data:`CHAMPION_PREDICTION`).
    shadow: dict[str, object] | None


def _record(line: bytes, numeric: Collection[str]) -> _LogRecord | None:
    """Timestamp, model version, inputs, output columns, id key and shadow part of a log line.

    The id key is None for a record without ids, e.g. one logged before ids existed. None for
    a line that is not UTF-8 JSON of the logged shape (a shadow line: with a ``shadow`` object
    holding the champion's version and prediction), or whose ``numeric`` inputs or
    probabilities hold a JSON ``true``/``false`` (Python would read it as 1 or 0).
    """
    try:
        value = json.loads(line.decode("utf-8"))
        moment = parse_timestamp(str(value["timestamp"]))
        features = value["inputs"]
        output = {PREDICTION_COLUMN: value["prediction"]}
        shadow = _shadow_part(value.get(SHADOW_KEY))
    except MALFORMED:
        return None
    if not isinstance(features, dict):
        return None
    probabilities = value.get("probabilities") or {}
    if not isinstance(probabilities, dict):
        return None
    numbers = [*(features.get(name) for name in numeric), *probabilities.values()]
    if any(isinstance(number, bool) for number in numbers):
        return None
    ids = value.get("ids")
    if ids is not None and not (isinstance(ids, dict) and ids):
        return None
    for label, probability in probabilities.items():
        output[f"{PROBABILITY_PREFIX}{label}"] = probability
    key = ID_SEPARATOR.join(str(id_value) for id_value in ids.values()) if ids else None
    version = str(value.get("model_version", ""))
    return _LogRecord(moment, version, features, output, key, shadow)


def _shadow_part(shadow: object) -> dict[str, object] | None:
    """The champion columns of a line's ``shadow`` object; None when the line has none.

    Raises:
        KeyError: when the object lacks the champion's prediction or version.
        TypeError: when it is not an object.
    """
    if shadow is None:
        return None
    if not isinstance(shadow, dict):
        raise TypeError("the shadow part of a log line is not an object")
    return {
        CHAMPION_PREDICTION: shadow["champion_prediction"],
        CHAMPION_VERSION: str(shadow["champion_version"]),
    }


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
        if pd.api.types.is_numeric_dtype(values.dtype):
            continue  # numbers already: every value reads as one
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
