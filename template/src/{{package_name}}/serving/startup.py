"""A registered version fetched after the server listens: the probes answer meanwhile.

``serve`` with one worker and a registered version (``MODEL_SERVER_MODEL_URI``) listens at
once. :class:`FetchingApp` answers ``/livez`` (200), ``/readyz`` (503, naming what it waits
for), ``/metrics`` and, for anything else, 503 ``not_ready``, while a thread fetches and
verifies the version and builds the real app; then every request goes to that app. A failure
that may heal (the tracking server does not answer, answers with a server error, or its store
is locked) is retried with a doubling pause and counted in ``model_fetch_retries_total``; one
that cannot (an unknown name or version, a tampered artifact) is kept and the server is asked
to stop, so ``serve`` exits 2 naming it.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..core.models import TrackingError
from .metrics import FETCH_RETRIES
from .schemas import RequestError

logger = logging.getLogger(__name__)

#: The pause after the first failed fetch, doubled after each one up to the longest.
FIRST_PAUSE_SECONDS, LONGEST_PAUSE_SECONDS = 1.0, 60.0


class FetchingApp:
    """An ASGI app that answers the probes until the app ``build`` makes is ready."""

    def __init__(
        self,
        build: Callable[[], FastAPI],
        uri: str,
        stop: Callable[[], None],
        *,
        pauses: tuple[float, float] = (FIRST_PAUSE_SECONDS, LONGEST_PAUSE_SECONDS),
    ) -> None:
        """Build the app with ``build`` (in a thread) for ``uri``; call ``stop`` if it never can.

        ``pauses`` are the first and the longest pause between attempts, in seconds.
        """
        self._build, self.uri, self._stop, self._pauses = build, uri, stop, pauses
        self.app: FastAPI | None = None
        #: The error that ended the attempts, one that retrying cannot heal.
        self.failure: Exception | None = None
        self.reason = f"fetching {uri}"
        self._registry = CollectorRegistry()
        self._retries = Counter(*FETCH_RETRIES, registry=self._registry)
        self._loading: asyncio.Task[None] | None = None
        self._running: AbstractAsyncContextManager[object] | None = None

    @property
    def retries(self) -> int:
        """Failed attempts that were retried."""
        return int(self._registry.get_sample_value(f"{FETCH_RETRIES[0]}_total") or 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The lifespan here; requests to the app once built, else the loading answers."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await self._while_loading(scope)(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Start fetching at start-up; stop it, or the built app, at shutdown."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loading = asyncio.create_task(self._load())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._loading is not None:
                    self._loading.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._loading
                if self._running is not None:
                    await self._running.__aexit__(None, None, None)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _load(self) -> None:
        """Build the app, retrying while the failure may heal; then start it."""
        pause, longest = self._pauses
        while True:
            try:
                app = await asyncio.to_thread(self._build)
            except TrackingError as error:
                if not error.temporary:
                    self._fail(error)
                    return
                self._retries.inc()
                self.reason = f"fetching {self.uri} failed, retrying in {pause:g} s: {error}"
                logger.warning("%s", self.reason)
                await asyncio.sleep(pause)
                pause = min(2 * pause, longest)
                continue
            except Exception as error:  # cannot heal; a bug too (serve raises it: exit 70)
                self._fail(error)
                return
            app.state.runtime.metrics.count_fetch_retries(self.retries)
            running: AbstractAsyncContextManager[object] = app.router.lifespan_context(app)
            await running.__aenter__()
            self._running = running
            self.app = app
            return

    def _fail(self, error: Exception) -> None:
        """Keep ``error`` (``serve`` raises it once the server stopped) and ask it to stop."""
        self.failure = error
        self.reason = f"cannot serve {self.uri}: {error}"
        self._stop()

    def _while_loading(self, scope: Scope) -> Response:
        """The answer to a request before the app is built."""
        path: str = scope["path"]
        if path == "/livez":
            return JSONResponse({"status": "alive"})
        if path == "/readyz":
            status = "failed" if self.failure is not None else "loading"
            body: dict[str, Any] = {"status": status, "reason": self.reason, "model_version": None}
            return JSONResponse(body, status_code=503)
        if path == "/metrics":
            return Response(generate_latest(self._registry), media_type=CONTENT_TYPE_LATEST)
        message = f"the model is not loaded yet ({self.reason}); /readyz says when it is"
        return RequestError(503, "not_ready", message).response(str(uuid.uuid4()))
