"""The HTTP prediction API: ``create_app`` builds it, :func:`serve` runs it with uvicorn.

The endpoints are in :mod:`.routes`, what every request goes through in :mod:`.middleware`,
the state they share (model, metrics, prediction log) in :mod:`.runtime`. ``/docs`` and
``/redoc`` use assets installed with ``fastapi-offline``, so they work without internet
access. Besides :func:`serve` (the ``serve`` command), ``uvicorn --factory
<package>.serving.app:create_app`` runs it too (then pass uvicorn the bounds that ``serve``
sets: ``--http h11 --h11-max-incomplete-event-size 16384 --limit-concurrency 1000``; only
``serve`` times out request heads). The model is a local
folder or, in a project that tracks with MLflow, a registered version
(``MODEL_SERVER_MODEL_URI``), downloaded and verified at start-up.
"""

import asyncio
import json
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, cast

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

from .middleware import ServingMiddleware, request_id
from .model_server import warm_up_row
from .routes import JSON, REQUEST_SCHEMA_REF, router
from .runtime import Runtime, open_runtime
from .schemas import RequestError
from .settings import ENV_PREFIX, ServingSettings, load_settings
from .shadow import resolved_reference
from .startup import FetchingApp

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
    first asked for. The API key header is declared only when a key is set.
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
            example |= {name: f"{name}-1" for name in features.ids}
            content = {"schema": {"$ref": REQUEST_SCHEMA_REF}, "example": {"records": [example]}}
            request_body = {"required": True, "content": {JSON: content}}
            schema["paths"]["/predict"]["post"]["requestBody"] = request_body
            if runtime.api_key is None:  # no key to send: declare none, and no 401
                schema["components"].pop("securitySchemes", None)
                for operations in schema["paths"].values():
                    for operation in operations.values():
                        operation.pop("security", None)
                        operation.get("responses", {}).pop("401", None)
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

    Options out of range, an address that cannot be bound, bad settings, a missing model or
    an unusable prediction log are refused before anything starts. One worker serves the
    app built here, or, for a registered version, listens at once and fetches it meanwhile
    (:class:`~.startup.FetchingApp`: a failure that cannot heal stops the server and is
    raised here); with more, each worker's uvicorn builds its own from the environment, so
    the model is exported to ``MODEL_SERVER_MODEL_DIR`` or ``MODEL_SERVER_MODEL_URI`` (and
    the other one unset). A registered version named by an alias is exported by its number,
    resolved once here: every worker serves the same version, even one restarted after a
    ``promote``. So is a shadow model (``MODEL_SERVER_SHADOW_MODEL``), by number or folder.

    Raises:
        ArtifactError: when there is no model where the settings point, or a registered
            version's files do not match their registered digests.
        TrackingError: when the registry holds no such version (or, with several workers,
            cannot be reached).
        ValueError: for an empty host, a port, worker count (at most :func:`max_workers`) or
            shutdown timeout out of range, an address that cannot be bound, or a prediction
            log that cannot be written.
    """
    if not host:
        raise ValueError(
            "--host is empty: name the address to bind, e.g. 127.0.0.1 (this host only) "
            "or 0.0.0.0 (every interface)"
        )
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {port}")
    if not 1 <= workers <= max_workers():
        raise ValueError(
            f"--workers must be between 1 and {max_workers()} (twice the {_cpus()} CPUs this "
            f"process may use), got {workers}"
        )
    if not 0 <= shutdown_timeout <= 3600:  # also refuses nan
        raise ValueError(
            f"--shutdown-timeout must be between 0 and 3600 seconds, got {shutdown_timeout}"
        )
    _check_bind(host, port)
    app: FastAPI | FetchingApp
    if workers == 1 and settings.model_uri is not None:  # listen first, fetch meanwhile
        app = FetchingApp(partial(create_app, settings), settings.model_uri, _stop_server)
    else:
        app = create_app(settings)
        if workers > 1:
            _export_model(settings, app.state.runtime)
    uvicorn.run(
        app if workers == 1 else APP_FACTORY,  # more workers: each builds its own app
        factory=workers > 1,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
        # Annotated int, but uvicorn waits with asyncio.timeout, which takes any float.
        timeout_graceful_shutdown=shutdown_timeout,  # type: ignore[arg-type]
        **uvicorn_options(settings),
    )
    if isinstance(app, FetchingApp) and app.failure is not None:
        raise app.failure
    return 0


def _stop_server() -> None:
    """Ask uvicorn to shut down, as SIGTERM does (its handler runs in the main thread)."""
    signal.raise_signal(signal.SIGTERM)


def uvicorn_options(settings: ServingSettings) -> dict[str, Any]:
    """How uvicorn must run the app: the bounds on connections and request heads.

    h11 caps the request line plus headers (httptools accepts any size); each head must
    arrive within ``request_head_timeout_seconds`` (:class:`BoundedH11Protocol`); beyond
    ``max_connections`` open connections, requests are answered 503 at once.
    """
    protocol = partial(BoundedH11Protocol, head_timeout=settings.request_head_timeout_seconds)
    return {
        "ws": "none",
        "http": cast(type[asyncio.Protocol], protocol),  # uvicorn calls it like the class
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "limit_concurrency": settings.max_connections,
    }


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head.

    The clock runs while a connection waits for a request line and headers: from its start,
    and from the first byte of each later request (uvicorn's keep-alive timeout closes an
    idle connection between requests). A head not complete in time gets a 408, or nothing if
    no byte came, and the connection is closed: stalled heads cannot pile up connections.
    """

    def __init__(self, *args: Any, head_timeout: float, **kwargs: Any) -> None:
        """The protocol of one connection; ``head_timeout`` in seconds."""
        super().__init__(*args, **kwargs)
        self.head_timeout = head_timeout
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first head."""
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def data_received(self, data: bytes) -> None:
        """Stop the clock once a head is complete; start it when the next one begins."""
        super().data_received(data)
        if not self._awaiting_head():
            self._stop_clock()
        elif self._head_timer is None and self.conn.trailing_data[0]:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock with the connection."""
        self._stop_clock()
        super().connection_lost(exc)

    def _awaiting_head(self) -> bool:
        cycle: RequestResponseCycle | None = self.cycle  # None until the first head
        return cycle is None or cycle.response_complete

    def _stop_clock(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._awaiting_head():
            return
        if self.conn.trailing_data[0]:  # part of a head came: say why the connection ends
            self.transport.write(_head_timeout_answer(self.head_timeout))
        self.transport.close()


def _head_timeout_answer(seconds: float) -> bytes:
    """A 408 in the API's error format, written by hand: there is no request to answer yet."""
    message = f"the request line and headers were not received within {seconds:g} s"
    body = json.dumps(
        {
            "error": "request_timeout",
            "message": message,
            "request_id": str(uuid.uuid4()),
            "problems": [],
        }
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def max_workers() -> int:
    """The most ``--workers`` accepted: twice the CPUs this process may run on.

    Each worker holds its own copy of the model; more workers than that only share the same
    CPUs and multiply the memory.
    """
    return 2 * _cpus()


def _cpus() -> int:
    """The CPUs this process may run on (its affinity, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _check_bind(host: str, port: int) -> None:
    """Refuse an address uvicorn could not listen on, in one line, before anything starts."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValueError(f"cannot listen on {host}:{port}: {reason}") from None


def _export_model(settings: ServingSettings, runtime: Runtime) -> None:
    """Name the model served (and the shadow) in the environment, for uvicorn's workers.

    A registered version goes by its number, as the parent resolved it.
    """
    chosen, other = "MODEL_DIR", "MODEL_URI"
    model = str(settings.model)
    registered = runtime.model.registered
    if settings.model_uri is not None:
        chosen, other = other, chosen
        if registered is not None:
            model = f"models:/{registered['name']}/{registered['version']}"
    os.environ[f"{ENV_PREFIX}{chosen}"] = model
    os.environ.pop(f"{ENV_PREFIX}{other}", None)
    if settings.shadow_model is not None:
        shadow = resolved_reference(
            settings.shadow_model, allow_version_mismatch=settings.allow_version_mismatch
        )
        os.environ[f"{ENV_PREFIX}SHADOW_MODEL"] = shadow
