"""The shapes of /predict: request and response models, and the error body of every refusal.

The request model is generated from the feature schema, so /docs shows the real fields; every
refusal names the field, the rule broken and the request id.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..core.schema import (
    ID_INTEGER_BOUND,
    ID_MAX_LENGTH,
    ColumnSchema,
    FeatureSchema,
    is_valid_id,
)

#: Problems listed in one error body, at most; the message gives the total count.
MAX_PROBLEMS = 20
#: Values a prediction can take: a class label or a regression value.
Label = int | float | str


def _record_id(value: object) -> str | int:
    """``value`` if it is an id (see ``core.schema.is_valid_id``), else one clear problem."""
    if not is_valid_id(value):
        raise PydanticCustomError(
            "invalid_id",
            "an id is a text of 1 to {length} characters or an integer from -2**63 to 2**63-1",
            {"length": ID_MAX_LENGTH},
        )
    return cast(str | int, value)


#: A record id: a short text or a 64-bit integer (JSON true/false, floats and null are refused).
RecordId = Annotated[
    str | int,
    PlainValidator(_record_id),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": ID_MAX_LENGTH},
                {"type": "integer", "minimum": -ID_INTEGER_BOUND, "maximum": ID_INTEGER_BOUND - 1},
            ]
        }
    ),
]


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (``field``), which ``rule`` and a readable ``message``."""

    field: str
    rule: str
    message: str


class RequestError(Exception):
    """A request the service refuses with a 4xx status and (the first 20) problems."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        problems: Sequence[Problem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Keep the HTTP status, an error code, a summary and the problems behind it."""
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.problems = tuple(problems)[:MAX_PROBLEMS]
        self.headers = dict(headers or {})

    def response(self, request_id: str) -> JSONResponse:
        """The JSON body every error shares: error code, message, request id and problems."""
        body = {
            "error": self.error,
            "message": self.message,
            "request_id": request_id,
            "problems": [vars(problem) for problem in self.problems],
        }
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def _field_path(location: Iterable[int | str]) -> str:
    """``("records", 0, "age")`` -> ``records[0].age``; the body itself is ``body``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "body"


def problems_from_validation(error: ValidationError) -> list[Problem]:
    """One problem per pydantic error; the offending input is never echoed back."""
    return [
        Problem(_field_path(item["loc"]), item["type"], item["msg"])
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]


class PredictResponse(BaseModel):
    """Predictions for the records, in order, with the model version and the request id."""

    predictions: list[Label]
    ids: list[dict[str, str | int]] | None = Field(
        default=None, description="when the model has id columns: each record's ids, in order"
    )
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


def request_model(schema: FeatureSchema, max_rows: int) -> type[BaseModel]:
    """The /predict body: ``{"records": [record, ...]}`` with 1 to ``max_rows`` records.

    A record holds every feature, required, with its type, then every id column of
    ``schema.ids`` (required too), and nothing else. Its fields are named ``feature_<n>`` and
    ``id_<n>`` and aliased to the column names, so any column name (spaces, keywords,
    pydantic's own attribute names) works; numbers must be finite JSON numbers, and
    categories one of the training categories unless unseen ones are allowed.
    """
    fields: dict[str, Any] = {
        f"feature_{position}": (
            _value_type(column, schema.allow_unseen_categories),
            Field(alias=column.name, description=_describe(column)),
        )
        for position, column in enumerate(schema.columns)
    }
    for position, name in enumerate(schema.ids):
        described = Field(alias=name, description="record id (text or integer), never a feature")
        fields[f"id_{position}"] = (RecordId, described)
    strict = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
    record: type[BaseModel] = create_model(
        "Record",
        __config__=strict,
        __validators__={"refuse_key_floods": _key_limit(len(fields))},
        **fields,
    )
    records = (list[record], Field(min_length=1, max_length=max_rows))  # type: ignore[valid-type]
    model: type[BaseModel] = create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        __validators__={"refuse_key_floods": _key_limit(1)},
        records=records,
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
