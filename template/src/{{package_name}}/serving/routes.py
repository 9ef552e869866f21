"""The endpoints of the prediction API, one function each, on :data:`router`.

``GET /livez`` (process up), ``GET /readyz`` (model loaded and warmed up, else 503) and
``GET /metrics`` (Prometheus) also answer HEAD; ``GET /model`` (metadata and feature schema),
``GET /model/card`` (the model card: a self-contained HTML page, or its Markdown for
``Accept: text/markdown``; 404 for a model trained before cards) and ``POST /predict`` need
the API key when one is set. Each endpoint receives the app's :class:`Runtime` as a typed
dependency: adding an endpoint is adding a function here.
"""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import APIKeyHeader

from ..core.card import CONTENT_SECURITY_POLICY
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
HTML = "text/html"
MARKDOWN = "text/markdown"
#: Sent with the card in either form: no script, frame or request, and no type sniffing.
CARD_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Vary": "Accept",
}
#: The answers /model/card documents besides the card itself.
CARD_ERRORS = {
    401: "Missing or wrong API key",
    404: "The model was trained before model cards: its bundle holds none",
    503: "The model is not ready yet",
}
_CARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The model card: a self-contained HTML page (no script, the figure "
        "inlined), or its Markdown when the Accept header prefers text/markdown",
        "content": {
            f"{HTML}; charset=utf-8": {"schema": {"type": "string"}},
            f"{MARKDOWN}; charset=utf-8": {"schema": {"type": "string"}},
        },
    },
    **{
        status: {"model": ErrorResponse, "description": description}
        for status, description in CARD_ERRORS.items()
    },
}

router = APIRouter()
#: The package's name, for the commands error messages suggest.
_PACKAGE = __name__.partition(".")[0]


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


@router.get(
    "/model/card",
    dependencies=[Depends(require_api_key)],
    response_class=Response,
    responses=_CARD_RESPONSES,
    tags=["model"],
)
async def model_card(request: Request, runtime: CurrentRuntime) -> Response:
    """The served model's card, as verified with its bundle when the model loaded.

    An HTML page by default; Markdown when the Accept header prefers ``text/markdown`` to
    ``text/html``. To read it in a browser when an API key is set, save it first:
    ``curl -fsS -H "X-API-Key: $KEY" <host>/model/card > card.html``.
    """
    server = runtime.server
    if server.state is not ModelState.READY:
        raise RequestError(503, "not_ready", server.reason, headers={"Retry-After": "1"})
    card = server.card
    if card is None:
        raise RequestError(404, "no_model_card", _no_card_message(runtime))
    if prefers_markdown(request.headers.get("accept", "")):
        content, media_type = card.markdown, MARKDOWN
    else:
        content, media_type = card.html, HTML
    return Response(
        content.encode(), media_type=f"{media_type}; charset=utf-8", headers=CARD_HEADERS
    )


def _no_card_message(runtime: Runtime) -> str:
    """Why the served model has no card, and how to write one."""
    metadata, registered = runtime.metadata, runtime.model.registered
    reference = (
        f"models:/{registered['name']}/{registered['version']}"
        if registered is not None
        else str(runtime.server.directory)
    )
    return (
        f"model {metadata.name} version {metadata.version} has no model card: it was trained "
        f"before model cards (0.17.0). `python -m {_PACKAGE} card --model {reference}` writes "
        "one beside its bundle, but only a card inside the bundle is served: retrain the model "
        "to serve its card here"
    )


def prefers_markdown(accept: str) -> bool:
    """Whether an Accept header prefers ``text/markdown`` to ``text/html`` (HTML on a tie).

    Each type takes the quality of the most specific range matching it (``text/html`` before
    ``text/*`` before ``*/*``); equal qualities go to the more specific match, so
    ``text/markdown, */*`` asks for Markdown. Malformed entries are skipped.
    """
    return _preference(accept, MARKDOWN) > _preference(accept, HTML)


def _preference(accept: str, media_type: str) -> tuple[float, int]:
    """(quality, specificity) of ``media_type`` in ``accept``; (0, -1) when nothing matches."""
    kind = media_type.split("/")[0]
    specificities = {media_type: 2, f"{kind}/*": 1, "*/*": 0}
    quality, specificity = 0.0, -1  # of the most specific range matching so far
    for entry in accept.lower().split(","):
        name, *parameters = (part.strip() for part in entry.split(";"))
        matched, given = specificities.get(name), _quality(parameters)
        if matched is not None and given is not None and matched > specificity:
            quality, specificity = given, matched
    return (quality, specificity) if quality > 0 else (0.0, -1)


def _quality(parameters: list[str]) -> float | None:
    """The ``q`` of a media range's parameters (1 if absent), or None when malformed."""
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return None
            return quality if 0 <= quality <= 1 else None
    return 1.0


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
