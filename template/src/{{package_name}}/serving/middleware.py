"""ASGI middleware: request ids, request metrics and a JSON 500 for unexpected failures."""

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response
from .metrics import ServingMetrics

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
#: A request id sent by the client is kept when it looks like one; otherwise a new one is made.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: Route label of requests that matched no route (keeps the label set bounded).
UNMATCHED_ROUTE = "<unmatched>"


def request_id(scope: Scope) -> str:
    """The id the middleware gave this request."""
    value: str = scope["state"]["request_id"]
    return value


class ServingMiddleware:
    """Give each request an id, count and time it, and turn a crash into a JSON 500."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        """Wrap ``app``; record into ``metrics``."""
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request (other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("request %s failed: %s %s", rid, scope["method"], scope["path"])
            if not response_started:
                message = f"internal error; quote request id {rid} when reporting it"
                response = error_response(500, "internal_error", message, rid)
                response.headers[REQUEST_ID_HEADER] = rid
                await response(scope, receive, send)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", UNMATCHED_ROUTE)
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(scope["method"], label, status, elapsed)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex
