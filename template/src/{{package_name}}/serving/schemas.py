"""Request and response models generated from the feature schema, so /docs shows real fields."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic_core import PydanticCustomError

from ..core import ColumnSchema, FeatureSchema
from .errors import MAX_PROBLEMS

#: Values a prediction can take: a class label or a regression value.
Label = int | float | str


class PredictResponse(BaseModel):
    """Predictions for the records, in order, with the model version and the request id."""

    predictions: list[Label]
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="classification only: one probability per class and record"
    )
    model_version: str
    request_id: str


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx response."""

    error: str
    message: str
    request_id: str
    problems: list[dict[str, str]]


def record_model(schema: FeatureSchema) -> type[BaseModel]:
    """A model of one record: every feature, required, with its type; nothing else.

    Fields are named ``feature_<n>`` and aliased to the column names, so any column name
    (spaces, keywords, pydantic's own attribute names) works; numbers must be finite JSON
    numbers, and categories one of the training categories unless unseen ones are allowed.
    """
    fields: dict[str, Any] = {
        f"feature_{position}": (
            _value_type(column, schema.allow_unseen_categories),
            Field(alias=column.name, description=_describe(column)),
        )
        for position, column in enumerate(schema.columns)
    }
    config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
    validators = {"refuse_key_floods": _key_limit(len(fields))}
    model: type[BaseModel] = create_model(
        "Record", __config__=config, __validators__=validators, **fields
    )
    return model


def request_model(record: type[BaseModel], max_rows: int) -> type[BaseModel]:
    """The /predict body: ``{"records": [record, ...]}`` with 1 to ``max_rows`` records."""
    config = ConfigDict(extra="forbid")
    records = (list[record], Field(min_length=1, max_length=max_rows))  # type: ignore[valid-type]
    validators = {"refuse_key_floods": _key_limit(1)}
    model: type[BaseModel] = create_model(
        "PredictRequest", __config__=config, __validators__=validators, records=records
    )
    return model


def _key_limit(fields: int) -> Any:
    """A validator refusing objects with far more keys than ``fields`` as one problem.

    Without it, each unknown key is its own problem: a 4 MB body of unknown keys would cost
    seconds of CPU and hundreds of MB to list them. Up to ``MAX_PROBLEMS`` extra keys are
    still named one by one.
    """
    limit = fields + MAX_PROBLEMS

    def refuse_key_floods(cls: type[BaseModel], data: Any) -> Any:
        if isinstance(data, dict) and len(data) > limit:
            raise PydanticCustomError(
                "too_many_keys",
                "{count} keys, but at most {limit} are allowed: {fields} known field(s) "
                "plus a few unknown ones that are named",
                {"count": len(data), "limit": limit, "fields": fields},
            )
        return data

    return model_validator(mode="before")(refuse_key_floods)


def _value_type(column: ColumnSchema, allow_unseen: bool) -> Any:
    value: Any = float
    if column.kind == "categorical":
        value = str if allow_unseen or not column.categories else Literal[tuple(column.categories)]
    return value | None if column.nullable else value


def _describe(column: ColumnSchema) -> str:
    if column.kind == "numeric":
        return f"numeric; seen in training: {column.minimum} to {column.maximum}"
    return f"categorical; seen in training: {column.categories}"
