"""The HTTP prediction API: ``create_app`` builds it, :func:`serve` runs it with uvicorn.

The endpoints are in :mod:`.routes`, what every request goes through in :mod:`.middleware`,
the state they share (model, metrics, prediction log) in :mod:`.runtime`. ``/docs`` and
``/redoc`` use assets installed with ``fastapi-offline``, so they work without internet
access. Besides :func:`serve` (the ``serve`` command), ``uvicorn --factory
<package>.serving.app:create_app`` runs it too (then pass uvicorn the header limit that
``serve`` sets: ``--http h11 --h11-max-incomplete-event-size 16384``). The model is a local
folder or, in a project that tracks with MLflow, a registered version
(``MODEL_SERVER_MODEL_URI``), downloaded and verified at start-up.
"""

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from .middleware import ServingMiddleware, request_id
from .model_server import warm_up_row
from .routes import JSON, REQUEST_SCHEMA_REF, router
from .runtime import Runtime, open_runtime
from .schemas import RequestError
from .settings import ENV_PREFIX, ServingSettings, load_settings

logger = logging.getLogger(__name__)

#: What uvicorn imports in every worker process; settings reach it through the environment.
APP_FACTORY = f"{__name__}:create_app"
_ERROR_CODES = {404: "not_found", 405: "method_not_allowed"}


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """Build the API for the model ``settings`` name (default: from the environment).

    The model's metadata is read now (it defines the request model); the model itself is
    loaded, verified and warmed up in the background once the server starts, and /readyz
    says 503 until then. In a project that tracks with MLflow, a registered version
    (``settings.model_uri``) is downloaded and verified now, and removed when the server
    stops.

    Raises:
        ArtifactError: when there is no model where the settings point, or a registered
            version's files do not match their registered digests (a tampered artifact).
        TrackingError: when the registry cannot be reached or holds no such version.
        ValueError: when the prediction log cannot be written (or, for settings read from the
            environment, a setting is invalid, e.g. an API key shorter than 16 characters).
    """
    settings = settings or load_settings()
    if unknown := ServingSettings.unknown_variables():
        logger.warning("ignoring unknown serving settings (typos?): %s", ", ".join(unknown))
    runtime = open_runtime(settings)
    metadata = runtime.metadata
    app = FastAPIOffline(
        title=f"{metadata.name} prediction API",
        version=metadata.version,
        description=f"Serves {metadata.task} model {metadata.name} version {metadata.version}.",
        lifespan=_lifespan,
    )
    app.state.runtime = runtime
    app.include_router(router)
    app.add_middleware(
        ServingMiddleware,
        metrics=runtime.metrics,
        receive_timeout=settings.receive_timeout_seconds,
    )
    app.exception_handler(RequestError)(_refused)
    app.exception_handler(HTTPException)(_http_error)
    _document_request_model(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the app's runtime while the server runs (see :meth:`Runtime.running`)."""
    runtime: Runtime = app.state.runtime
    async with runtime.running():
        yield


async def _refused(request: Request, error: RequestError) -> Response:
    """A :class:`RequestError` as its JSON answer."""
    return error.response(request_id(request.scope))


async def _http_error(request: Request, error: HTTPException) -> Response:
    """Starlette's 404, 405 and other HTTP errors in the API's error format."""
    method, path = request.method, request.url.path
    message = str(error.detail)
    if error.status_code == 404:
        message = f"no route {path}; the API is described at /docs"
    elif error.status_code == 405:
        allowed = (error.headers or {}).get("Allow", "")
        message = f"method {method} is not allowed on {path}; allowed: {allowed}"
    code = _ERROR_CODES.get(error.status_code, "http_error")
    rid = request_id(request.scope)
    return RequestError(error.status_code, code, message, headers=error.headers).response(rid)


def _document_request_model(app: FastAPI) -> None:
    """Publish the request model generated from the feature schema, with an example body.

    /docs then shows the model's fields. Both are read from the runtime when the schema is
    first asked for.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            runtime: Runtime = app.state.runtime
            schema = build()
            body_model = runtime.predictor.body_model
            definitions = body_model.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(definitions.pop("$defs", {}))
            components[REQUEST_SCHEMA_REF.rsplit("/", 1)[1]] = definitions
            features = runtime.metadata.feature_schema
            example = dict(zip(features.feature_names, warm_up_row(features), strict=True))
            content = {"schema": {"$ref": REQUEST_SCHEMA_REF}, "example": {"records": [example]}}
            request_body = {"required": True, "content": {JSON: content}}
            schema["paths"]["/predict"]["post"]["requestBody"] = request_body
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def serve(
    settings: ServingSettings,
    *,
    host: str,
    port: int,
    workers: int,
    shutdown_timeout: float,
    access_log: bool,
) -> int:
    """Check the model can be served, then serve it until interrupted; 0 on a clean shutdown.

    The app is built first, so bad settings, a missing model or an unusable prediction log
    are refused before listening. One worker serves that app; with more, each worker's
    uvicorn builds its own from the environment, so the model ``settings`` name is exported
    to ``MODEL_SERVER_MODEL_DIR`` or ``MODEL_SERVER_MODEL_URI`` (and the other one unset).

    Raises:
        ArtifactError: when there is no model where the settings point, or a registered
            version's files do not match their registered digests.
        TrackingError: when the registry cannot be reached or holds no such version.
        ValueError: for a port, worker count or shutdown timeout out of range, or a
            prediction log that cannot be written.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {port}")
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if not 0 <= shutdown_timeout <= 3600:  # also refuses nan
        raise ValueError(
            f"--shutdown-timeout must be between 0 and 3600 seconds, got {shutdown_timeout}"
        )
    app = create_app(settings)
    if workers > 1:
        _export_model(settings)
    uvicorn.run(
        app if workers == 1 else APP_FACTORY,  # more workers: each builds its own app
        factory=workers > 1,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
        ws="none",
        # h11 caps the request line plus headers (httptools accepts any size).
        http="h11",
        h11_max_incomplete_event_size=settings.max_header_bytes,
        # Annotated int, but uvicorn waits with asyncio.timeout, which takes any float.
        timeout_graceful_shutdown=shutdown_timeout,  # type: ignore[arg-type]
    )
    return 0


def _export_model(settings: ServingSettings) -> None:
    """Name the model ``settings`` serve in the environment, for uvicorn's worker processes."""
    chosen, other = "MODEL_DIR", "MODEL_URI"
    if settings.model_uri is not None:
        chosen, other = other, chosen
    os.environ[f"{ENV_PREFIX}{chosen}"] = str(settings.model)
    os.environ.pop(f"{ENV_PREFIX}{other}", None)
