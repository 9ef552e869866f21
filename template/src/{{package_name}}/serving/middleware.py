"""ASGI middleware: request ids, request metrics, a receive timeout and a JSON 500."""

import asyncio
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import RequestError, error_response
from .metrics import ServingMetrics

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
#: A request id sent by the client is kept when it looks like one; otherwise a new one is made.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: Route label of requests that matched no route (keeps the label set bounded).
UNMATCHED_ROUTE = "<unmatched>"
#: Sent with a 408: the rest of the body may still come, so the connection cannot be reused.
_CLOSE = {"Connection": "close"}


def request_id(scope: Scope) -> str:
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
        rid = _request_id(scope)
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
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_with_id)
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
