"""JSON error bodies: every refusal names the field, the rule broken and the request id."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from pydantic import ValidationError

#: Problems listed in one error body, at most; the message gives the total count.
MAX_PROBLEMS = 20


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


def error_response(
    status: int,
    error: str,
    message: str,
    request_id: str,
    problems: Iterable[Problem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON body every error shares: error code, message, request id and problems."""
    body = {
        "error": error,
        "message": message,
        "request_id": request_id,
        "problems": [vars(problem) for problem in problems],
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def field_path(location: Iterable[int | str]) -> str:
    """``("records", 0, "age")`` -> ``records[0].age``; the body itself is ``body``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "body"


def problems_from_validation(error: ValidationError) -> list[Problem]:
    """One problem per pydantic error; the offending input is never echoed back."""
    return [
        Problem(field_path(item["loc"]), item["type"], item["msg"])
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]
