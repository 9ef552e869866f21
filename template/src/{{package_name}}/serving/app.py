"""The HTTP prediction API: ``create_app`` builds it, the ``serve`` command runs it with uvicorn.

Endpoints: ``GET /livez`` (process up), ``GET /readyz`` (model loaded and warmed up, else 503),
``GET /model`` (metadata and feature schema), ``POST /predict`` and ``GET /metrics``
(Prometheus); ``/docs`` and ``/redoc`` use assets installed with ``fastapi-offline``, so they work
without internet access. :class:`ServingMiddleware` gives every request an id, metrics, a
receive timeout and a JSON 500. Besides ``serve``, ``uvicorn --factory
<package>.serving.app:create_app`` runs it too (then pass uvicorn the header limit that
``serve`` sets: ``--http h11 --h11-max-incomplete-event-size 16384``).
"""

import argparse
import asyncio
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import check_versions
from .metrics import ServingMetrics
from .model_server import ModelServer, ModelState, Predictor, read_metadata, warm_up_row
from .prediction_log import PredictionLog
from .schemas import ErrorResponse, PredictResponse, RequestError, request_model
from .settings import ENV_PREFIX, ServingSettings

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
JSON = "application/json"
_ERROR_CODES = {404: "not_found", 405: "method_not_allowed"}
#: What uvicorn imports in every worker process; settings reach it through the environment.
APP_FACTORY = f"{__name__}:create_app"
_REQUEST_ID = b"x-request-id"
#: A request id sent by the client is kept when it looks like one; otherwise a new one is made.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: Route label of requests that matched no route (keeps the label set bounded).
UNMATCHED_ROUTE = "<unmatched>"
#: Sent with a 408: the rest of the body may still come, so the connection cannot be reused.
_CLOSE = {"Connection": "close"}


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
    metrics = ServingMetrics(metadata, settings.drift_report_dir)
    log = None
    if settings.prediction_log is not None:
        on_drop = metrics.drop_log_entries
        log = PredictionLog(settings.prediction_log, settings.prediction_log_max_bytes, on_drop)
    body_model = request_model(metadata.feature_schema, settings.max_batch_rows)
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
        return model_info | {"directory": str(directory), "status": server.state.value}

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
        content = await run_in_threadpool(predictor.respond, body, _request_id(request.scope))
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
            "status": server.state.value,
            "reason": server.reason,
            "model_version": server.metadata.version,
        }
        return JSONResponse(body, status_code=200 if server.state is ModelState.READY else 503)

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
        return error.response(_request_id(request.scope))

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
        rid = _request_id(request.scope)
        return RequestError(error.status_code, code, message, headers=error.headers).response(rid)


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


def _request_id(scope: Scope) -> str:
    """The id the middleware gave this request."""
    value: str = scope["state"]["request_id"]
    return value


class ServingMiddleware:
    """Give each request an id, count and time it, bound its receiving, turn a crash into a 500.

    uvicorn has no timeout for receiving a request body: a client sending a byte a second
    would hold a connection for minutes. Here the whole body must arrive within
    ``receive_timeout`` seconds of the request's start, else the answer is 408 and the
    connection is closed.
    """

    def __init__(self, app: ASGIApp, metrics: ServingMetrics, receive_timeout: float) -> None:
        """Wrap ``app``; record into ``metrics``; allow ``receive_timeout`` s for the body."""
        self.app = app
        self.metrics = metrics
        self.receive_timeout = receive_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request (other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = _choose_request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        response_started = False
        deadline = asyncio.get_running_loop().time() + self.receive_timeout
        body_received = False

        async def receive_in_time() -> Message:
            nonlocal body_received
            if body_received:  # e.g. waiting for a disconnect: not bounded
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                text = f"the request body was not received within {self.receive_timeout:g} s"
                raise RequestError(408, "request_timeout", text, headers=_CLOSE) from None
            body_received = not message.get("more_body", False)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", []), (_REQUEST_ID, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_with_id)
        except Exception:
            logger.exception("request %s failed: %s %s", rid, scope["method"], scope["path"])
            if not response_started:
                message = f"internal error; quote request id {rid} when reporting it"
                response = RequestError(500, "internal_error", message).response(rid)
                response.headers[_REQUEST_ID.decode()] = rid
                await response(scope, receive, send)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", UNMATCHED_ROUTE)
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(scope["method"], label, status, elapsed)


def _choose_request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it looks like an id, else a new one."""
    for name, value in scope["headers"]:
        if name == _REQUEST_ID:
            text: str = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def add_serve_command(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``serve`` and its options with ``add_parser`` (the subparsers' method)."""
    serve = add_parser(
        "serve",
        help="serve the latest model over HTTP (settings: MODEL_SERVER_* environment variables)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.add_argument(
        "--model-dir",
        type=Path,
        help="model version directory or models root (default: MODEL_SERVER_MODEL_DIR or models)",
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every request (metrics count them anyway)"
    )


def run_serve(args: argparse.Namespace) -> int:
    """Check the model can be found, then serve until interrupted; 0 on a clean shutdown.

    Raises:
        ArtifactError: when there is no model where the settings point.
        ValueError: for a port or worker count out of range, an invalid ``MODEL_SERVER_*``
            setting (e.g. a short API key) or a prediction log that cannot be written.
    """
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.model_dir is not None:
        os.environ[f"{ENV_PREFIX}MODEL_DIR"] = str(args.model_dir)
    settings = ServingSettings()
    app = create_app(settings)  # refuses bad settings, a missing model or an unusable log now
    uvicorn.run(
        app if args.workers == 1 else APP_FACTORY,  # more workers: each builds its own app
        factory=args.workers > 1,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        log_level="info",
        ws="none",
        # h11 caps the request line plus headers (httptools accepts any size).
        http="h11",
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    return 0
