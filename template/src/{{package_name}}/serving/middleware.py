"""What every HTTP request goes through: an id, metrics, a receive timeout and a JSON 500.

:class:`ServingMiddleware` wraps the whole app (routes, error handlers, 404s);
:func:`request_id` is how routes and error handlers find the id it gave a request.
"""

import asyncio
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import ServingMetrics
from .schemas import RequestError

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = b"x-request-id"
#: A request id sent by the client is kept when it looks like one; otherwise a new one is made.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: Route label of requests that matched no route (keeps the label set bounded).
UNMATCHED_ROUTE = "<unmatched>"
#: Sent with a 408: the rest of the body may still come, so the connection cannot be reused.
_CLOSE = {"Connection": "close"}


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
        rid = choose_request_id(scope)
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
                headers = message.get("headers", [])
                message["headers"] = [*headers, (REQUEST_ID_HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_with_id)
        except Exception:
            logger.exception("request %s failed: %s %s", rid, scope["method"], scope["path"])
            if not response_started:
                message = f"internal error; quote request id {rid} when reporting it"
                response = RequestError(500, "internal_error", message).response(rid)
                response.headers[REQUEST_ID_HEADER.decode()] = rid
                await response(scope, receive, send)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", UNMATCHED_ROUTE)
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(scope["method"], label, status, elapsed)


def request_id(scope: Scope) -> str:
    """The id :class:`ServingMiddleware` gave this request."""
    value: str = scope["state"]["request_id"]
    return value


def choose_request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it looks like an id, else a new one."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            text: str = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex
