"""Feature schema: inferred from training data, saved with the model, checked on every input.

The schema is the single source of truth for what a model accepts. ``predict``, the HTTP
service and monitoring all check inputs against it, so that every entry point refuses the
same inputs with the same messages.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

Kind = Literal["numeric", "categorical"]
Rule = Literal["missing_column", "dtype", "nullable", "unseen_category", "out_of_range", "id"]

#: Row positions quoted in a violation message, at most.
QUOTED_ROWS = 5
#: Longest id text; integer ids fit a signed 64-bit integer.
ID_MAX_LENGTH = 128
ID_INTEGER_BOUND = 2**63
#: Joins the ids of a record into one key (the unit separator: in no sensible id).
ID_SEPARATOR = "\x1f"


class DataError(ValueError):
    """A data file is missing, empty, unreadable or lacks required columns."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: which column, which rule, a readable message and example rows."""

    column: str
    rule: Rule
    message: str
    rows: tuple[int, ...] = ()


class SchemaError(ValueError):
    """Input data breaks the feature schema; ``violations`` lists every broken rule."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        """Keep ``violations`` and join their messages into the error text."""
        self.violations = tuple(violations)
        super().__init__("; ".join(violation.message for violation in self.violations))


class ColumnSchema(BaseModel):
    """What one feature column held at training time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Kind
    dtype: str
    nullable: bool
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None


class FeatureSchema(BaseModel):
    """Ordered feature columns and the rules inputs must follow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: list[ColumnSchema]
    allow_unseen_categories: bool = False
    #: Columns that identify a record (``features.ids``): echoed and logged, never features.
    ids: list[str] = []

    @property
    def feature_names(self) -> list[str]:
        """Feature names in training order."""
        return [column.name for column in self.columns]

    @property
    def numeric(self) -> list[str]:
        """Names of numeric features."""
        return [column.name for column in self.columns if column.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        """Names of categorical features."""
        return [column.name for column in self.columns if column.kind == "categorical"]

    def violations(self, frame: pd.DataFrame) -> list[Violation]:
        """Every rule ``frame`` breaks; columns not in the schema are ignored."""
        found: list[Violation] = []
        for column in self.columns:
            if column.name not in frame.columns:
                message = f"column {column.name!r}: missing"
                found.append(Violation(column.name, "missing_column", message))
                continue
            found.extend(self._column_violations(column, frame[column.name]))
        return found

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Check ``frame``, then return its features in training order with model dtypes.

        Numeric features become float64, categorical features become strings (missing
        values stay NaN). ``frame`` itself is never modified.

        Raises:
            SchemaError: listing every rule ``frame`` breaks.
        """
        found = self.violations(frame)
        if found:
            raise SchemaError(found)
        names = self.feature_names
        features = frame if list(frame.columns) == names else frame[names]
        converted = {
            column.name: _as_model_values(column, features[column.name])
            for column in self.columns
            if _needs_conversion(column, features[column.name])
        }
        return features.assign(**converted) if converted else features

    def id_violations(self, frame: pd.DataFrame) -> list[Violation]:
        """Every id column ``frame`` lacks or holds badly: missing, invalid or repeated ids.

        An id is a non-empty text of at most :data:`ID_MAX_LENGTH` characters or an integer
        (a signed 64-bit one); the ids of a row together must be unique in ``frame``.
        """
        found: list[Violation] = []
        for name in self.ids:
            if name not in frame.columns:
                found.append(Violation(name, "id", f"id column {name!r}: missing"))
                continue
            bad = ~frame[name].map(is_valid_id).to_numpy(dtype=bool)
            if bad.any():
                rows = _positions(bad)
                message = (
                    f"id column {name!r}: {int(bad.sum())} value(s) (rows {list(rows)}) are not "
                    f"ids: use a text of 1 to {ID_MAX_LENGTH} characters or a 64-bit integer"
                )
                found.append(Violation(name, "id", message, rows))
        if self.ids and not found:
            repeated = id_keys(frame, self.ids).duplicated(keep=False).to_numpy(dtype=bool)
            if repeated.any():
                rows = _positions(repeated)
                shared = int(repeated.sum())
                message = f"ids {self.ids}: {shared} rows share an id (rows {list(rows)})"
                found.append(Violation(self.ids[0], "id", message, rows))
        return found

    def _column_violations(self, column: ColumnSchema, values: pd.Series) -> list[Violation]:
        found: list[Violation] = []
        if column.kind == "numeric" and not _is_numeric(values):
            message = f"column {column.name!r}: expected a numeric dtype, got {values.dtype}"
            found.append(Violation(column.name, "dtype", message))
        if not column.nullable:
            missing = _missing(values)
            if missing.any():
                rows = _positions(missing)
                message = (
                    f"column {column.name!r}: {int(missing.sum())} missing value(s) "
                    f"(rows {list(rows)}) but it was never missing in training"
                )
                found.append(Violation(column.name, "nullable", message, rows))
        if column.kind == "categorical" and not self.allow_unseen_categories:
            known = set(column.categories or [])
            text = _as_text(values)
            unseen = ~pd.Series(text).isin(known).to_numpy() & values.notna().to_numpy()
            if unseen.any():
                rows = _positions(unseen)
                labels = sorted({str(value) for value in text[unseen]})[:QUOTED_ROWS]
                message = (
                    f"column {column.name!r}: unseen categories {labels} (rows {list(rows)}); "
                    f"known: {sorted(known)}"
                )
                found.append(Violation(column.name, "unseen_category", message, rows))
        return found


def infer_schema(
    features: pd.DataFrame,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    allow_unseen_categories: bool = False,
    ids: Sequence[str] = (),
) -> FeatureSchema:
    """Infer the schema of training ``features`` (the target already removed).

    Unlisted columns are numeric when their dtype is numeric, categorical otherwise.
    A column listed as numeric must have a numeric dtype; a column with no values at
    all is refused, because nothing can be learnt or checked from it.
    """
    if features.columns.size == 0:
        raise ValueError("no feature columns: the data holds only the target")
    listed_numeric = set(numeric or [])
    listed_categorical = set(categorical or [])
    overlap = sorted(listed_numeric & listed_categorical)
    if overlap:
        raise ValueError(f"columns {overlap} are listed as both numeric and categorical")
    columns = []
    for name in features.columns:
        values = features[name]
        if values.isna().all():
            raise ValueError(
                f"column {name!r} has no values in the training data; "
                "remove it or add it to features.exclude"
            )
        if name in listed_categorical:
            kind: Kind = "categorical"
        elif name in listed_numeric:
            if not _is_numeric(values):
                raise ValueError(
                    f"column {name!r} is listed as numeric but has dtype {values.dtype}"
                )
            kind = "numeric"
        else:
            kind = "numeric" if _is_numeric(values) else "categorical"
        columns.append(_describe_column(str(name), kind, values))
    return FeatureSchema(
        columns=columns, allow_unseen_categories=allow_unseen_categories, ids=list(ids)
    )


def is_valid_id(value: object) -> bool:
    """Whether ``value`` is an id: a text of 1 to :data:`ID_MAX_LENGTH` characters, an integer."""
    if isinstance(value, str):
        return 0 < len(value) <= ID_MAX_LENGTH
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        return False
    return -ID_INTEGER_BOUND <= int(value) < ID_INTEGER_BOUND


def id_keys(frame: pd.DataFrame, ids: Sequence[str]) -> pd.Series:
    """One text key per row from its ``ids`` (integers in decimal): how records and labels join.

    Ids are compared as text, so the integer 7 and the text "7" are the same id.
    """
    texts = [frame[name].astype(str) for name in ids]
    key = texts[0]
    for text in texts[1:]:
        key = key + ID_SEPARATOR + text
    return key.rename("id_key")


def _describe_column(name: str, kind: Kind, values: pd.Series) -> ColumnSchema:
    nullable = bool(values.isna().any())
    if kind == "numeric":
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        return ColumnSchema(
            name=name,
            kind=kind,
            dtype=str(values.dtype),
            nullable=nullable,
            minimum=float(np.nanmin(numbers)),
            maximum=float(np.nanmax(numbers)),
        )
    categories = sorted({str(value) for value in values.dropna().unique()})
    return ColumnSchema(
        name=name, kind=kind, dtype=str(values.dtype), nullable=nullable, categories=categories
    )


def _is_numeric(values: pd.Series) -> bool:
    dtype = values.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _needs_conversion(column: ColumnSchema, values: pd.Series) -> bool:
    return column.kind == "categorical" or values.dtype != np.float64


def _as_model_values(column: ColumnSchema, values: pd.Series) -> pd.Series:
    if column.kind == "numeric":
        return pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index)
    return pd.Series(_as_text(values), index=values.index, dtype=object)


def _as_text(values: pd.Series) -> npt.NDArray[np.object_]:
    """Values as an object array of ``str``, with NaN where a value is missing."""
    text = values.astype(str).to_numpy(dtype=object)
    text[values.isna().to_numpy()] = np.nan
    return text


def _missing(values: pd.Series) -> npt.NDArray[np.bool_]:
    """Missing-value mask; plain float columns take numpy's much faster path."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "f":
        mask: npt.NDArray[np.bool_] = np.isnan(values.to_numpy())
        return mask
    return values.isna().to_numpy()


def _positions(mask: npt.NDArray[np.bool_]) -> tuple[int, ...]:
    return tuple(int(position) for position in np.flatnonzero(mask)[:QUOTED_ROWS])


def require_columns(frame: pd.DataFrame, columns: list[str], *, source: str) -> None:
    """Refuse ``frame`` when any of ``columns`` is absent, naming them."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{source} lacks column(s) {missing}; it has {list(frame.columns)}")
