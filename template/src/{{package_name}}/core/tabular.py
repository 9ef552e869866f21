"""Read and write data files: CSV or Parquet, chosen by the file suffix."""

import os
from pathlib import Path

import pandas as pd

SUFFIXES = (".csv", ".parquet")


class DataError(ValueError):
    """A data file is missing, empty, unreadable or lacks required columns."""


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; refuse missing, empty and unknown files by name."""
    suffix = _suffix(path)
    if not path.is_file():
        raise DataError(f"input file not found: {path}")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if suffix == ".csv":
            frame.to_csv(partial, index=False)
        else:
            frame.to_parquet(partial, index=False)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def require_columns(frame: pd.DataFrame, columns: list[str], *, source: str) -> None:
    """Refuse ``frame`` when any of ``columns`` is absent, naming them."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{source} lacks column(s) {missing}; it has {list(frame.columns)}")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use one of {list(SUFFIXES)}")
    return suffix
