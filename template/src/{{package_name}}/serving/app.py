"""The HTTP prediction API: ``create_app`` builds it from settings and a trained model.

Endpoints: ``GET /livez`` (process up), ``GET /readyz`` (model loaded and warmed up, else 503),
``GET /model`` (metadata and feature schema), ``POST /predict`` and ``GET /metrics``
(Prometheus); ``/docs`` and ``/redoc`` use assets installed with ``fastapi-offline``, so they work
without internet access. Run it with the ``serve`` command, or with
``uvicorn --factory <package>.serving.app:create_app`` (then pass uvicorn the header limit that
``serve`` sets: ``--http h11 --h11-max-incomplete-event-size 16384``).
"""

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from ..core import check_versions
from .drift_metrics import DriftCollector
from .errors import RequestError, error_response
from .metrics import ServingMetrics
from .middleware import ServingMiddleware, request_id
from .model_server import ModelServer, Status, read_metadata, warm_up_row
from .prediction_log import PredictionLog
from .predictor import Predictor
from .schemas import ErrorResponse, PredictResponse, record_model, request_model
from .settings import ServingSettings

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
JSON = "application/json"
_ERROR_CODES = {404: "not_found", 405: "method_not_allowed"}


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """Build the API for the model ``settings.model_dir`` names (default: from the environment).

    The metadata is read now (it defines the request model); the model itself is loaded,
    verified and warmed up in the background once the server starts, and /readyz says 503
    until then.

    Raises:
        ArtifactError: when there is no model at ``settings.model_dir``.
        ValueError: when the prediction log cannot be written (or, for settings read from the
            environment, a setting is invalid, e.g. an API key shorter than 16 characters).
    """
    settings = settings or ServingSettings()
    if unknown := ServingSettings.unknown_variables():
        logger.warning("ignoring unknown serving settings (typos?): %s", ", ".join(unknown))
    directory, metadata = read_metadata(settings.model_dir)
    check_versions(metadata, allow_mismatch=settings.allow_version_mismatch)
    server = ModelServer(
        directory, metadata, settings.max_batch_rows, settings.allow_version_mismatch
    )
    metrics = ServingMetrics()
    metrics.describe_model(metadata)
    if settings.drift_report_dir is not None:
        metrics.registry.register(DriftCollector(settings.drift_report_dir))
    log = None
    if settings.prediction_log is not None:
        on_drop = metrics.drop_log_entries
        log = PredictionLog(settings.prediction_log, settings.prediction_log_max_bytes, on_drop)
    body_model = request_model(record_model(metadata.feature_schema), settings.max_batch_rows)
    predictor = Predictor(server, body_model, metrics, log, settings.max_batch_rows)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if log is not None:
            log.start()
        loading = asyncio.create_task(asyncio.to_thread(server.load))
        try:
            yield
        finally:
            await loading
            if log is not None:
                await asyncio.to_thread(log.close)

    app = FastAPIOffline(
        title=f"{metadata.name} prediction API",
        version=metadata.version,
        description=f"Serves {metadata.task} model {metadata.name} version {metadata.version}.",
        lifespan=lifespan,
    )
    app.state.model_server = server
    app.add_middleware(
        ServingMiddleware, metrics=metrics, receive_timeout=settings.receive_timeout_seconds
    )
    _add_error_handlers(app)
    _add_probes(app, server, metrics)
    model_info = metadata.model_dump(mode="json", exclude={"files", "data", "package_versions"})
    check_key = _api_key_check(settings)

    @app.get("/model", dependencies=[Depends(check_key)], tags=["model"])
    async def model() -> dict[str, Any]:
        """The served model: name, version, task, metrics, quality gate and feature schema."""
        return model_info | {"directory": str(directory), "status": server.status.value}

    schema = metadata.feature_schema
    example = dict(zip(schema.feature_names, warm_up_row(schema), strict=True))
    schema_ref = {"$ref": "#/components/schemas/PredictRequest"}
    request_body = {
        "required": True,
        "content": {JSON: {"schema": schema_ref, "example": {"records": [example]}}},
    }
    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorResponse, "description": description}
        for status, description in {
            400: "Malformed JSON",
            401: "Missing or wrong API key",
            408: "The body was not received within the receive timeout",
            413: "Too many records or too large a body",
            415: "The body is not sent as application/json",
            422: "A record breaks the feature schema or cannot be scored: each problem names "
            "the field and rule (the first 20 problems are listed)",
            503: "The model is not ready yet",
        }.items()
    }

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses=errors,
        dependencies=[Depends(check_key)],
        openapi_extra={"requestBody": request_body},
        tags=["model"],
    )
    async def predict(request: Request) -> Response:
        """Predict ``{"records": [{feature: value, ...}, ...]}``: one prediction per record."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != JSON:
            message = f"send the body as {JSON} (got content-type {media_type or 'none'!r})"
            raise RequestError(415, "unsupported_media_type", message)
        body = await _read_body(request, settings.max_body_bytes)
        content = await run_in_threadpool(predictor.respond, body, request_id(request.scope))
        return Response(content, media_type=JSON)

    _document_request_model(app, body_model)
    return app


def _add_probes(app: FastAPI, server: ModelServer, metrics: ServingMetrics) -> None:
    async def livez() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "alive"}

    async def readyz() -> JSONResponse:
        """Readiness: 200 once the model is loaded and a warm-up prediction succeeded."""
        body = {
            "status": server.status.value,
            "reason": server.reason,
            "model_version": server.metadata.version,
        }
        return JSONResponse(body, status_code=200 if server.status is Status.READY else 503)

    async def prometheus_metrics() -> Response:
        """Prometheus metrics in the text exposition format."""
        return Response(metrics.render(), media_type=metrics.content_type)

    not_ready: dict[int | str, dict[str, Any]] = {503: {"description": "Not ready yet"}}
    for path, endpoint, responses in (
        ("/livez", livez, None),
        ("/readyz", readyz, not_ready),
        ("/metrics", prometheus_metrics, None),
    ):
        app.get(path, tags=["probes"], responses=responses)(endpoint)
        # HEAD answers like GET without a body (uvicorn drops it); one documented operation.
        app.head(path, include_in_schema=False)(endpoint)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def rejected(request: Request, error: RequestError) -> Response:
        return error_response(
            error.status,
            error.error,
            error.message,
            request_id(request.scope),
            error.problems,
            error.headers,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        method, path = request.method, request.url.path
        message = str(error.detail)
        if error.status_code == 404:
            message = f"no route {path}; the API is described at /docs"
        elif error.status_code == 405:
            allowed = (error.headers or {}).get("Allow", "")
            message = f"method {method} is not allowed on {path}; allowed: {allowed}"
        code = _ERROR_CODES.get(error.status_code, "http_error")
        rid = request_id(request.scope)
        return error_response(error.status_code, code, message, rid, headers=error.headers)


def _api_key_check(settings: ServingSettings) -> Callable[..., Any]:
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
    expected = settings.api_key.get_secret_value().encode() if settings.api_key else None

    async def check(given: str | None = Depends(header)) -> None:
        if expected is None:
            return
        if given is None or not secrets.compare_digest(given.encode(), expected):
            message = f"this endpoint needs a valid API key in the {API_KEY_HEADER} header"
            headers = {"WWW-Authenticate": API_KEY_HEADER}
            raise RequestError(401, "unauthorized", message, headers=headers)

    return check


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


def _document_request_model(app: FastAPI, body_model: type[Any]) -> None:
    """Publish the generated request model in the OpenAPI schema, so /docs shows its fields."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            definitions = body_model.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(definitions.pop("$defs", {}))
            components["PredictRequest"] = definitions
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
