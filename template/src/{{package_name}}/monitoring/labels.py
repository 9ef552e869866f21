"""The labels store: true targets that come back after the predictions, joined to them by id.

A labels file (CSV or Parquet) holds the id columns of ``features.ids``, the target column and
optionally ``label_time`` (ISO 8601; UTC when it has no zone). A file is ingested whole or not at
all: every row is checked first, and a file with any bad row is refused, naming its lines.

The store is a folder of append-only segments, one per ingested file:
``segment-<NNNNNN>-<first 16 hex digits of the file's SHA-256>.parquet`` with the columns
``id_key``, ``label``, ``label_time`` and ``ingested_at``. Segments are numbered under an
exclusive lock and written atomically, so concurrent ingests never collide, and a file already
ingested (the same digest) is not ingested again. The latest label of an id wins: a later
segment, then a later row.
"""

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..core.data import SUFFIXES, file_lock, require_file, write_table
from ..core.metrics import Task
from ..core.schema import ID_INTEGER_BOUND, ID_MAX_LENGTH, DataError, id_keys, is_valid_id
from .inputs import LOG_PATTERNS, LOG_SUFFIX, logged_ids

Status = Literal["ingested", "already_ingested"]
Mask = npt.NDArray[np.bool_]

#: Where ``label`` keeps the labels unless told otherwise.
DEFAULT_STORE = Path("labels")
#: The optional column of a labels file saying when each label became known.
LABEL_TIME = "label_time"
#: What :func:`read_labels` returns; a segment adds ``ingested_at``.
COLUMNS = ("id_key", "label", LABEL_TIME)
SEGMENT = re.compile(r"segment-(?P<number>[0-9]{6,})-(?P<digest>[0-9a-f]{16})\.parquet")
SEGMENT_PREFIX = "segment-"
LOCK_FILE = ".lock"
#: Bad rows quoted in a refusal, at most (the total is always given).
QUOTED_ROWS = 20
#: Longest quoted value in a refusal.
QUOTED_LENGTH = 40
NO_IDS = "labels join predictions by id: set features.ids in configs/train.yaml"

_INTEGER = r"[+-]?[0-9]+"
_CANONICAL = r"0|-?[1-9][0-9]*"
_BOOLEANS = ("true", "false")
_EARLIEST = pd.Timestamp.min.tz_localize(UTC)
_LATEST = pd.Timestamp.max.tz_localize(UTC)


class LabelsError(DataError):
    """A labels file or store is refused; the message names it and what is allowed."""


@dataclass(frozen=True)
class IngestResult:
    """What ingesting one file did; the counts are rows, except ``unknown_ids`` (distinct ids).

    ``added`` rows changed the store (new ids and ``conflicts``, the rows that relabel an id);
    ``duplicates`` repeat an id's current label and were not written; ``unknown_ids`` were never
    seen in the prediction logs (None without logs). ``segment`` is the file's segment, the
    earlier one when it was ``already_ingested``.
    """

    file: Path
    status: Status
    rows: int = 0
    added: int = 0
    duplicates: int = 0
    conflicts: int = 0
    unknown_ids: int | None = None
    segment: Path | None = None
    extra_columns: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The result as JSON values."""
        return {
            "file": str(self.file),
            "status": self.status,
            "rows": self.rows,
            "added": self.added,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "unknown_ids": self.unknown_ids,
            "segment": str(self.segment) if self.segment is not None else None,
            "extra_columns": list(self.extra_columns),
        }


@dataclass(frozen=True)
class Refusal:
    """A file that was not ingested, and why."""

    file: Path
    error: str

    def as_dict(self) -> dict[str, str]:
        """The refusal as JSON values."""
        return {"file": str(self.file), "error": self.error}


@dataclass(frozen=True)
class Ingestion:
    """The files of one ``label`` run: those ingested (or already) and those refused."""

    results: tuple[IngestResult, ...]
    refused: tuple[Refusal, ...]


@dataclass(frozen=True)
class _Segment:
    number: int
    digest: str
    path: Path


def ingest_labels(
    path: Path,
    store: Path,
    *,
    task: Task,
    target: str,
    ids: Sequence[str],
    logs: Path | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Ingest one labels file into ``store`` as a new segment, unless it already was.

    ``logs`` (a folder of prediction logs or a ``.jsonl`` file) tells which ids were never
    predicted; ``now`` is the ingest time (default: the clock).

    Raises:
        LabelsError: for a file with bad rows (nothing is written), missing columns or no rows,
            no ``ids``, or a store, segment or lock that is a symbolic link.
        DataError: for a file that is missing or unreadable.
    """
    if not ids:
        raise LabelsError(NO_IDS)
    _check_store(store)
    return _ingest(path, store, task, target, list(ids), known_ids(logs), _utc(now))


def ingest_folder_or_file(
    paths: Path | Sequence[Path],
    store: Path,
    *,
    task: Task,
    target: str,
    ids: Sequence[str],
    logs: Path | None = None,
    now: datetime | None = None,
) -> Ingestion:
    """Ingest files, and each ``*.csv``/``*.parquet`` of folders (by name, not recursively).

    Each file is ingested on its own: a refused file (bad rows, a symbolic link in a folder) is
    listed and does not stop the others; an empty or missing folder holds nothing to ingest.

    Raises:
        LabelsError: without ``ids``, or for a store that is a symbolic link (nothing is read).
        DataError: for ``logs`` that cannot be read.
    """
    if not ids:
        raise LabelsError(NO_IDS)
    _check_store(store)
    known = known_ids(logs)
    moment = _utc(now)
    results: list[IngestResult] = []
    refused: list[Refusal] = []
    for path in [paths] if isinstance(paths, Path) else paths:
        files, links = _labels_files(path)
        refused.extend(links)
        for file in files:
            try:
                results.append(_ingest(file, store, task, target, list(ids), known, moment))
            except (DataError, OSError) as error:
                refused.append(Refusal(file, str(error)))
    return Ingestion(tuple(results), tuple(refused))


def read_labels(store: Path) -> pd.DataFrame:
    """The latest label of each id: ``id_key``, ``label``, ``label_time`` (empty when none).

    Raises:
        LabelsError: for a store or segment that is a symbolic link.
    """
    _check_store(store)
    return _latest(_segments(store), list(COLUMNS))


def segment_names(store: Path) -> list[str]:
    """The store's segment files in order: its position, recorded with what read it."""
    if not store.is_dir():
        return []
    _check_store(store)
    return [segment.path.name for segment in _segments(store)]


def known_ids(logs: Path | None) -> pd.Index | None:
    """The id keys of every record in the prediction ``logs``; None without logs or records.

    A folder (or ``.jsonl`` file) that does not exist yet holds no logs, like one no replica
    has written to.

    Raises:
        LabelsError: for a file that is not a prediction log (``.jsonl``).
    """
    if logs is None or not logs.exists():
        return None
    if logs.is_dir():
        if not any(next(logs.glob(pattern), None) for pattern in LOG_PATTERNS):
            return None
    elif logs.suffix.lower() != LOG_SUFFIX:
        raise LabelsError(f"prediction logs {logs}: expected a .jsonl log or a folder of them")
    keys = logged_ids(logs)
    return pd.Index(list(keys)) if keys else None


def _labels_files(path: Path) -> tuple[list[Path], list[Refusal]]:
    """``path`` itself, or the labels files of the folder ``path`` and those refused (links).

    A folder (a path without a file suffix) that is empty or not there yet holds nothing to
    ingest: an inbox nobody has written to is not an error.
    """
    if not path.is_dir():
        return ([], []) if not path.suffix and not path.exists() else ([path], [])
    files: list[Path] = []
    refused: list[Refusal] = []
    for entry in sorted(path.iterdir(), key=lambda entry: entry.name):
        if entry.suffix.lower() not in SUFFIXES:
            continue
        if entry.is_symlink():
            refused.append(Refusal(entry, f"{entry} is a symbolic link: refusing to follow it"))
        else:
            files.append(entry)
    return files, refused


def _ingest(
    path: Path,
    store: Path,
    task: Task,
    target: str,
    ids: list[str],
    known: pd.Index | None,
    moment: pd.Timestamp,
) -> IngestResult:
    """Check ``path``, then append its rows that change the store as one segment."""
    digest = _digest(path)
    earlier = _earlier(_segments(store), digest)
    if earlier is not None:
        return IngestResult(path, "already_ingested", segment=earlier)
    labels, extra = _read_labels_file(path, task, target, ids, moment)
    with file_lock(store / LOCK_FILE):
        segments = _segments(store)
        earlier = _earlier(segments, digest)
        if earlier is not None:
            return IngestResult(path, "already_ingested", segment=earlier)
        current = _latest(segments, ["id_key", "label"]).set_index("id_key")["label"]
        duplicate, conflict = _compare(labels, current)
        number = segments[-1].number + 1 if segments else 1
        segment = store / f"{SEGMENT_PREFIX}{number:06d}-{digest}.parquet"
        written = labels[~duplicate].assign(ingested_at=moment)
        write_table(written.reset_index(drop=True), segment)
    unknown = None
    if known is not None:
        unknown = int((~pd.Index(labels["id_key"].unique()).isin(known)).sum())
    return IngestResult(
        file=path,
        status="ingested",
        rows=len(labels),
        added=int((~duplicate).sum()),
        duplicates=int(duplicate.sum()),
        conflicts=int(conflict.sum()),
        unknown_ids=unknown,
        segment=segment,
        extra_columns=extra,
    )


def _compare(labels: pd.DataFrame, current: pd.Series) -> tuple[Mask, Mask]:
    """Which rows repeat their id's label, and which relabel an id (the store or a row above).

    An id's label before a row is that of the id's row above it in the file, else the store's.
    """
    codes, keys = pd.factorize(labels["id_key"])
    order = np.argsort(codes, kind="stable")  # each id's rows together, in file order
    follows = np.flatnonzero(codes[order][1:] == codes[order][:-1]) + 1
    above = np.full(len(codes), -1)
    above[order[follows]] = order[follows - 1]
    stored = current.reindex(pd.Index(keys))
    values = labels["label"].to_numpy()
    in_file = above >= 0
    previous = np.where(in_file, values[above], stored.to_numpy()[codes])
    labelled = in_file | stored.notna().to_numpy(dtype=bool)[codes]
    same = np.asarray(values == previous, dtype=bool)
    return labelled & same, labelled & ~same


def _read_labels_file(
    path: Path, task: Task, target: str, ids: list[str], moment: pd.Timestamp
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The checked labels of ``path`` (``id_key``, ``label``, ``label_time``) and its extras.

    Raises:
        LabelsError: listing the first bad rows and how many there are.
    """
    frame, columns, csv = _read_file(path, [*ids, target, LABEL_TIME])
    missing = [name for name in [*ids, target] if name not in columns]
    if missing:
        raise LabelsError(
            f"labels file {path} lacks column(s) {missing}; it has {columns}: a labels file "
            f"holds the id column(s) {ids}, the target {target!r} and optionally {LABEL_TIME!r}"
        )
    if frame.empty:
        raise LabelsError(f"labels file {path} has no rows")
    checks: list[tuple[Mask, str, str]] = []
    for name in ids:
        checks.extend(_id_checks(frame[name], name))
    label, target_checks = _target(frame[target], task)
    checks.extend((mask, target, problem) for mask, problem in target_checks)
    if LABEL_TIME in frame.columns:
        times, time_checks = _label_times(frame[LABEL_TIME])
        checks.extend((mask, LABEL_TIME, problem) for mask, problem in time_checks)
        times = times.fillna(moment)  # an empty cell: not given, like a file without the column
    else:
        times = pd.Series(moment, index=frame.index)
    _refuse_bad_rows(path, frame, checks, csv=csv, task=task)
    labels = pd.DataFrame(
        {
            "id_key": id_keys(frame, ids).astype(str),
            "label": label,
            LABEL_TIME: times.dt.as_unit("ns"),
        }
    )
    extra = tuple(str(name) for name in columns if name not in {*ids, target, LABEL_TIME})
    return labels.reset_index(drop=True), extra


def _read_file(path: Path, wanted: list[str]) -> tuple[pd.DataFrame, list[str], bool]:
    """The ``wanted`` columns ``path`` has (a CSV's as text), all its column names, and CSV?"""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise LabelsError(
            f"labels file {path}: unsupported file type {suffix!r}; use one of {list(SUFFIXES)}"
        )
    require_file(path, "labels file")
    try:
        if suffix == ".csv":
            columns = [str(name) for name in pd.read_csv(path, nrows=0).columns]
            text = {name: str for name in wanted}
            frame = pd.read_csv(path, usecols=lambda name: name in wanted, dtype=text)
        else:
            frame = pd.read_parquet(path)
            columns = [str(name) for name in frame.columns]
            frame = frame[[name for name in columns if name in wanted]]
    except pd.errors.EmptyDataError:
        raise LabelsError(f"labels file {path} is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise LabelsError(f"cannot read labels file {path}: {error}") from None
    return frame, columns, suffix == ".csv"


def _id_checks(values: pd.Series, name: str) -> list[tuple[Mask, str, str]]:
    """Rows whose id ``name`` is missing, and rows whose id is no id (``is_valid_id``)."""
    missing = values.isna().to_numpy(dtype=bool)
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        valid = np.zeros(len(values), dtype=bool)
    elif pd.api.types.is_integer_dtype(dtype):
        numbers = values.to_numpy(dtype="float64", na_value=0.0)
        is_unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        valid = numbers < ID_INTEGER_BOUND if is_unsigned else np.ones(len(values), dtype=bool)
    elif _is_text(values):
        valid = values.str.len().between(1, ID_MAX_LENGTH).to_numpy(dtype=bool)
    elif pd.api.types.is_object_dtype(dtype):  # mixed Python values: each one checked
        valid = values.map(is_valid_id).to_numpy(dtype=bool)
    else:  # floats (7.0 is no id), times, ...
        valid = np.zeros(len(values), dtype=bool)
    return [(missing, name, "is missing"), (~missing & ~valid, name, "is not an id")]


def _target(values: pd.Series, task: Task) -> tuple[pd.Series, list[tuple[Mask, str]]]:
    """The label of each row (a class as text, or a float) and the rows whose target is bad."""
    missing = values.isna().to_numpy(dtype=bool)
    checks = [(missing, "is missing")]
    dtype = values.dtype
    text = _is_text(values)
    if pd.api.types.is_bool_dtype(dtype):
        checks.append((~missing, "is a boolean"))
        return values.astype(str), checks
    if task == "regression":
        if text:
            numbers = pd.to_numeric(values.str.strip(), errors="coerce")
        elif pd.api.types.is_numeric_dtype(dtype):
            numbers = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan))
        else:
            numbers = pd.Series(np.full(len(values), np.nan))
        numbers = numbers.astype("float64").set_axis(values.index)
        present = numbers.notna().to_numpy(dtype=bool)
        checks.append((~missing & ~present, "is not a number"))
        checks.append((present & ~np.isfinite(numbers.to_numpy()), "is not finite"))
        return numbers, checks
    if text:
        return _class_texts(values, missing, checks)
    if pd.api.types.is_integer_dtype(dtype):
        return values.astype(str), checks
    if pd.api.types.is_float_dtype(dtype):
        numbers = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index)
        return _classes_of_numbers(numbers, ~missing, values.astype(str), checks)
    checks.append((~missing, "is not a class"))
    return values.astype(str), checks


def _class_texts(
    values: pd.Series, missing: Mask, checks: list[tuple[Mask, str]]
) -> tuple[pd.Series, list[tuple[Mask, str]]]:
    """Classes written as text: integers normalised ("+07" is 7), numbers integral, not blank."""
    stripped = values.str.strip()
    blank = (stripped.str.len() == 0).to_numpy(dtype=bool)
    boolean = stripped.str.lower().isin(_BOOLEANS).to_numpy(dtype=bool)
    integer = stripped.str.fullmatch(_INTEGER).to_numpy(dtype=bool, na_value=False)
    canonical = stripped.str.fullmatch(_CANONICAL).to_numpy(dtype=bool, na_value=False)
    labels = values.astype(object)
    labels[canonical] = stripped[canonical].to_numpy()
    digits = stripped[integer & ~canonical].str.replace(r"^\+", "", regex=True)
    digits = digits.str.replace(r"^(-?)0+(?=[0-9])", r"\1", regex=True).replace("-0", "0")
    labels[integer & ~canonical] = digits.to_numpy()
    checks.append((blank, "is blank"))
    checks.append((boolean, "is a boolean"))
    candidates = stripped.where(~(integer | missing | blank | boolean))
    numbers = pd.to_numeric(candidates, errors="coerce").astype("float64")
    return _classes_of_numbers(numbers, numbers.notna().to_numpy(dtype=bool), labels, checks)


def _classes_of_numbers(
    numbers: pd.Series, present: Mask, labels: pd.Series, checks: list[tuple[Mask, str]]
) -> tuple[pd.Series, list[tuple[Mask, str]]]:
    """Where ``present``, a number is a class when it is an integer (1.0 is the class 1)."""
    values = numbers.to_numpy()
    with np.errstate(invalid="ignore"):
        integral = present & np.isfinite(values) & (np.floor(values) == values)
        integral &= np.abs(values) < ID_INTEGER_BOUND
    labels = labels.astype(object)
    labels[integral] = values[integral].astype("int64").astype(str)
    checks.append((present & ~integral, "is not a class"))
    return labels, checks


def _label_times(values: pd.Series) -> tuple[pd.Series, list[tuple[Mask, str]]]:
    """Each row's label time in UTC (ISO 8601 text without a zone is UTC) and the bad rows."""
    missing = values.isna().to_numpy(dtype=bool)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        times = values.dt.tz_convert(UTC)
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        times = values.dt.tz_localize(UTC)
    elif _is_text(values):
        times = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    else:
        times = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    parsed = times.notna().to_numpy(dtype=bool)
    outside = ((times < _EARLIEST) | (times > _LATEST)).to_numpy(dtype=bool)
    checks = [
        (~missing & ~parsed, "is not an ISO 8601 time"),
        (outside, f"is outside {_EARLIEST.year + 1}..{_LATEST.year - 1}"),
    ]
    return times.where(~outside), checks


def _refuse_bad_rows(
    path: Path, frame: pd.DataFrame, checks: list[tuple[Mask, str, str]], *, csv: bool, task: Task
) -> None:
    """Raise a :class:`LabelsError` quoting the first bad rows, when there is any."""
    bad = np.zeros(len(frame), dtype=bool)
    for mask, _, _ in checks:
        bad |= mask
    if not bad.any():
        return
    quoted = []
    for position in np.flatnonzero(bad)[:QUOTED_ROWS]:
        where = f"line {position + 2}" if csv else f"row {position + 1}"
        problems = [
            _problem(name, frame[name].iloc[position], problem)
            for mask, name, problem in checks
            if mask[position]
        ]
        quoted.append(f"{where}: {', '.join(problems)}")
    count = int(bad.sum())
    more = f" (and {count - len(quoted)} more)" if count > len(quoted) else ""
    target = "a finite number" if task == "regression" else "an integer or a text class"
    raise LabelsError(
        f"labels file {path}: {count} bad row(s), nothing ingested: {'; '.join(quoted)}{more}. "
        f"An id is a text of 1 to {ID_MAX_LENGTH} characters or an integer; the target is "
        f"{target}; {LABEL_TIME}, when given, an ISO 8601 time (UTC without a zone)"
    )


def _problem(name: str, value: object, problem: str) -> str:
    if problem == "is missing":
        return f"{name} is missing"
    if isinstance(value, np.generic):
        value = value.item()
    shown = repr(value)
    if len(shown) > QUOTED_LENGTH:
        shown = f"{shown[: QUOTED_LENGTH - 3]}... ({len(str(value))} characters)"
    return f"{name}={shown} {problem}"


def _digest(path: Path) -> str:
    """The first 16 hex digits of the SHA-256 of ``path``: what names its segment."""
    require_file(path, "labels file")
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _check_store(store: Path) -> None:
    """Refuse a store that is no folder or a symbolic link, or whose segments or lock are.

    A missing store is fine: the first ingest creates it.
    """
    _refuse_link(store, "labels store")
    if store.exists() and not store.is_dir():
        raise LabelsError(f"labels store {store} is not a folder")
    _refuse_link(store / LOCK_FILE, "lock file of the labels store")
    _segments(store)


def _utc(now: datetime | None) -> pd.Timestamp:
    """``now`` (default: the clock) in UTC, to the nanosecond; a time without zone is UTC."""
    moment = pd.Timestamp(now or datetime.now(UTC))
    moment = moment.tz_localize(UTC) if moment.tzinfo is None else moment.tz_convert(UTC)
    return moment.as_unit("ns")


def _is_text(values: pd.Series) -> bool:
    """Whether ``values`` holds texts (and missing values) only."""
    textual = values.dtype == object or isinstance(values.dtype, pd.StringDtype)
    return textual and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _refuse_link(path: Path, role: str) -> None:
    if path.is_symlink():
        raise LabelsError(f"{role} {path} is a symbolic link: refusing to follow it")


def _segments(store: Path) -> list[_Segment]:
    """The segments of ``store``, oldest first; a segment that is a symbolic link is refused."""
    if not store.is_dir():
        return []
    found = []
    for entry in store.iterdir():
        if not entry.name.startswith(SEGMENT_PREFIX):
            continue
        _refuse_link(entry, "segment of the labels store")
        match = SEGMENT.fullmatch(entry.name)
        if match is not None:
            found.append(_Segment(int(match["number"]), match["digest"], entry))
    return sorted(found, key=lambda segment: segment.number)


def _earlier(segments: list[_Segment], digest: str) -> Path | None:
    return next((segment.path for segment in segments if segment.digest == digest), None)


def _latest(segments: list[_Segment], columns: list[str]) -> pd.DataFrame:
    """The last row of each id over ``segments`` (read in order), with ``columns``."""
    frames = [pd.read_parquet(segment.path, columns=columns) for segment in segments]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        empty = {
            "id_key": pd.Series(dtype=str),
            "label": pd.Series(dtype=object),
            LABEL_TIME: pd.Series(dtype="datetime64[ns, UTC]"),
        }
        return pd.DataFrame({name: empty[name] for name in columns})
    labels = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return labels.drop_duplicates("id_key", keep="last").reset_index(drop=True)
