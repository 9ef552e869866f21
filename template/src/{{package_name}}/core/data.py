"""Data files (CSV or Parquet, chosen by the suffix), written atomically, and the demo data.

The demo data ships inside scikit-learn, so a new project trains offline in seconds.
"""

import fcntl
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

from .metrics import Task
from .schema import DataError

SUFFIXES = (".csv", ".parquet")
#: Mode of a file written where none was (``mkstemp`` alone would make it owner-only).
NEW_FILE_MODE = 0o644


#: What a path that exists but is no regular file is, by the ``stat`` test that finds it.
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def require_file(path: Path, role: str = "input file") -> None:
    """Refuse ``path`` unless it is a regular file (or a link to one), saying what it is.

    Raises:
        DataError: ``<role> not found: <path>``, or ``<role> <path> is a named pipe (FIFO),
            not a regular file`` (a directory, device or socket likewise).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"{role} not found: {path}") from None
    except OSError as error:
        raise DataError(f"cannot read {role} {path}: {error.strerror}") from None
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "an unknown kind of file")
    raise DataError(f"{role} {path} is {kind}, not a regular file")


def shadow_log_path(prediction_log: Path) -> Path:
    """Where a shadow model's predictions go: ``predictions.jsonl`` -> ``predictions.shadow.jsonl``.

    The server writes them there, beside its prediction log; monitoring reads them there.
    """
    return prediction_log.with_name(f"{prediction_log.stem}.shadow{prediction_log.suffix}")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; refuse missing, empty and unknown files by name."""
    suffix = _suffix(path)
    require_file(path)
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"input file {path} is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    if frame.empty:
        raise DataError(f"input file {path} has no rows")
    return frame


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` atomically: a partial file never appears at ``path``."""
    suffix = _suffix(path)
    return _write_atomically(path, lambda stream: _encode(frame, suffix, stream))


@contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing): one holder at a time.

    Holders are processes (or open files) on this host; the lock is released when the block
    ends or the process does, however it ends. Without ``wait``, a lock another holder has
    raises :class:`BlockingIOError` at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_text_atomically(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return _write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))


# Demo data: breast cancer (classification) or diabetes (regression), from scikit-learn.


def load_demo_frame(task: Task, *, target: str = "target") -> pd.DataFrame:
    """Breast cancer (classification) or diabetes (regression): features plus ``target``."""
    loader = load_breast_cancer if task == "classification" else load_diabetes
    bunch = loader(as_frame=True)
    frame: pd.DataFrame = bunch.frame
    return frame.rename(columns={"target": target})


def write_demo_data(
    task: Task,
    *,
    train_path: Path,
    test_path: Path,
    target: str,
    test_size: float,
    seed: int,
    force: bool = False,
    ids: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write the task's demo data set as a train file and a hold-out test file.

    Each of ``ids`` (the configured id columns) comes first and numbers the rows from 0.

    An existing file is replaced only with ``force`` or when it already holds exactly these
    rows (a rerun), so a team's own data is never overwritten by accident.

    Raises:
        DataError: naming the first existing file that holds other data, before writing any.
    """
    frame = load_demo_frame(task, target=target)
    for position, name in enumerate(ids):
        frame.insert(position, name, np.arange(len(frame)))
    stratify = frame[target] if task == "classification" else None
    parts = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    train, test = (part.reset_index(drop=True) for part in parts)
    planned = {train_path: train, test_path: test}
    for path, rows in planned.items():
        if not force and path.exists() and not _holds_table(path, rows):
            raise DataError(
                f"{path} exists and is not the demo data this command writes: refusing to "
                "overwrite it (pass --force to replace it)"
            )
    return write_table(train, train_path), write_table(test, test_path)


def _write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write`` on a new temporary file next to ``path``, then rename it to ``path``.

    The temporary file gets an unpredictable name and is created exclusively (``O_EXCL``,
    ``O_NOFOLLOW``), so a symlink planted in the directory is never followed; readers see
    the old file or the whole new one, never half of it. A replaced file keeps its mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else NEW_FILE_MODE
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)
    return path


def _holds_table(path: Path, frame: pd.DataFrame) -> bool:
    """Whether ``path`` holds exactly the bytes :func:`write_table` writes for ``frame``."""
    encoded = io.BytesIO()
    _encode(frame, _suffix(path), encoded)
    expected = encoded.getvalue()
    return path.is_file() and path.stat().st_size == len(expected) and path.read_bytes() == expected


def _encode(frame: pd.DataFrame, suffix: str, stream: IO[bytes]) -> None:
    if suffix == ".csv":
        frame.to_csv(stream, index=False)
    else:
        frame.to_parquet(stream, index=False)


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use one of {list(SUFFIXES)}")
    return suffix
