"""The endpoints of the prediction API, one function each, on :data:`router`.

``GET /livez`` (process up), ``GET /readyz`` (model loaded and warmed up, else 503) and
``GET /metrics`` (Prometheus) also answer HEAD; ``GET /model`` (metadata and feature schema)
and ``POST /predict`` need the API key when one is set. Each endpoint receives the app's
:class:`Runtime` as a typed dependency: adding an endpoint is adding a function here.
"""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import APIKeyHeader

from .middleware import request_id
from .model_server import ModelState
from .runtime import Runtime
from .schemas import ErrorResponse, PredictResponse, RequestError

API_KEY_HEADER = "X-API-Key"
JSON = "application/json"
#: Where the request model generated from the feature schema is published in OpenAPI.
REQUEST_SCHEMA_REF = "#/components/schemas/PredictRequest"
#: The error answers /predict documents (each with an :class:`ErrorResponse` body).
PREDICT_ERRORS = {
    400: "Malformed JSON",
    401: "Missing or wrong API key",
    408: "The body was not received within the receive timeout",
    413: "Too many records or too large a body",
    415: "The body is not sent as application/json",
    422: "A record breaks the feature schema or cannot be scored: each problem names "
    "the field and rule (the first 20 problems are listed)",
    503: "The model is not ready yet",
}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in PREDICT_ERRORS.items()
}
_REQUEST_BODY = {"required": True, "content": {JSON: {"schema": {"$ref": REQUEST_SCHEMA_REF}}}}

router = APIRouter()


def current_runtime(request: Request) -> Runtime:
    """The runtime ``create_app`` keeps on the app's state."""
    runtime: Runtime = request.app.state.runtime
    return runtime


CurrentRuntime = Annotated[Runtime, Depends(current_runtime)]
_given_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


async def require_api_key(
    runtime: CurrentRuntime, given: Annotated[str | None, Depends(_given_api_key)]
) -> None:
    """Refuse with 401 unless the request carries the API key (when one is set)."""
    expected = runtime.api_key
    if expected is None:
        return
    if given is None or not secrets.compare_digest(given.encode(), expected):
        message = f"this endpoint needs a valid API key in the {API_KEY_HEADER} header"
        headers = {"WWW-Authenticate": API_KEY_HEADER}
        raise RequestError(401, "unauthorized", message, headers=headers)


# HEAD answers like GET without a body (uvicorn drops it); one documented operation. GET is
# registered first (the lower decorator), so a 405 names GET as the allowed method.
@router.head("/livez", include_in_schema=False)
@router.get("/livez", tags=["probes"])
async def livez() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "alive"}


@router.head("/readyz", include_in_schema=False)
@router.get("/readyz", tags=["probes"], responses={503: {"description": "Not ready yet"}})
async def readyz(runtime: CurrentRuntime) -> JSONResponse:
    """Readiness: 200 once the model is loaded and a warm-up prediction succeeded."""
    server = runtime.server
    body = {
        "status": server.state.value,
        "reason": server.reason,
        "model_version": server.metadata.version,
    }
    return JSONResponse(body, status_code=200 if server.state is ModelState.READY else 503)


@router.head("/metrics", include_in_schema=False)
@router.get("/metrics", tags=["probes"], response_class=PlainTextResponse)
async def prometheus_metrics(runtime: CurrentRuntime) -> Response:
    """Prometheus metrics in the text exposition format."""
    metrics = runtime.metrics
    return Response(metrics.render(), media_type=metrics.content_type)


@router.get("/model", dependencies=[Depends(require_api_key)], tags=["model"])
async def model(runtime: CurrentRuntime) -> dict[str, Any]:
    """The served model: name, version, task, metrics, quality gate and feature schema.

    ``registered_model`` names the registered version (uri, name, version, alias, aliases)
    when the model came from the registry (in a project that tracks with MLflow), else it
    is null. ``shadow`` describes the model scoring every request in the shadow of this one
    (source, status, reason, name, version, estimator, registered_model), or is null.
    """
    server = runtime.server
    shadow = runtime.shadow.describe() if runtime.shadow is not None else None
    return runtime.model_info | {
        "directory": str(server.directory),
        "status": server.state.value,
        "shadow": shadow,
    }


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=_ERROR_RESPONSES,
    dependencies=[Depends(require_api_key)],
    # create_app publishes the request model and adds an example, as they depend on the model.
    openapi_extra={"requestBody": _REQUEST_BODY},
    tags=["model"],
)
async def predict(request: Request, runtime: CurrentRuntime) -> Response:
    """Predict ``{"records": [{feature: value, ...}, ...]}``: one prediction per record."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != JSON:
        message = f"send the body as {JSON} (got content-type {media_type or 'none'!r})"
        raise RequestError(415, "unsupported_media_type", message)
    body = await _read_body(request, runtime.settings.max_body_bytes)
    rid = request_id(request.scope)
    predictor = runtime.predictor
    content = predictor.respond_now(body, rid)
    if content is None:  # scikit-learn, pandas or a large body: never on the event loop
        content = await run_in_threadpool(predictor.respond, body, rid)
    return Response(content, media_type=JSON)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> RequestError:
    message = f"the request body is larger than {limit} bytes; send fewer records per request"
    return RequestError(413, "body_too_large", message)
