"""What a running service holds: the opened model, its server and predictor, metrics, the log.

:func:`open_runtime` builds a :class:`Runtime` from the settings, refusing a missing model,
bad library versions or an unusable prediction log at once; ``create_app`` keeps it on
``app.state.runtime`` and the routes receive it as a dependency. :meth:`Runtime.running`
is the server's lifetime: the model loads in the background, then the shadow model if one is
set; on shutdown both logs are flushed and a downloaded registered version removed.
"""

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ..core.bundle import ModelMetadata
from ..core.data import shadow_log_path
from ..core.models import OpenedModel, open_model
from .metrics import ServingMetrics
from .model_server import ModelServer, Predictor, server_for
from .prediction_log import PredictionLog
from .schemas import request_model
from .settings import ServingSettings
from .shadow import SHADOW_DROP_REASONS, ShadowScorer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """The state every route shares, built once per app by :func:`open_runtime`."""

    settings: ServingSettings
    #: The model's folder; for a registered version, its verified bundle and registry facts.
    model: OpenedModel
    server: ModelServer
    metrics: ServingMetrics
    predictor: Predictor
    log: PredictionLog | None
    #: The model scoring every request in the shadow of the served one, if any.
    shadow: ShadowScorer | None
    #: What /model reports besides the directory and status.
    model_info: dict[str, Any]
    #: The API key /predict, /model and /model/card need, or None when they need none.
    api_key: bytes | None
    #: Keeps a downloaded registered version until :meth:`close`.
    resources: ExitStack

    @property
    def metadata(self) -> ModelMetadata:
        """The served model's metadata."""
        return self.server.metadata

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The server's lifetime: load the models in the background, clean up on shutdown.

        The shadow model starts loading once the served one is ready (or failed). On shutdown
        the prediction log and the shadow are flushed side by side, each within its bound.
        """
        if self.log is not None:
            self.log.start()
        loading = asyncio.create_task(self._load())
        try:
            yield
        finally:
            await loading
            flushing = [self.log.close] if self.log is not None else []
            if self.shadow is not None:
                flushing.append(self.shadow.close)
            await asyncio.gather(*(asyncio.to_thread(flush) for flush in flushing))
            self.close()  # uvicorn exits on SIGTERM without running atexit hooks

    async def _load(self) -> None:
        """Load the served model, then start the shadow (which loads in its own thread)."""
        await asyncio.to_thread(self.server.load)
        if self.shadow is not None:
            self.shadow.start()

    def close(self) -> None:
        """Release what the runtime holds open: a registered version's download folder."""
        self.resources.close()


def open_runtime(settings: ServingSettings) -> Runtime:
    """Open the model ``settings`` name and build everything serving it needs.

    The metadata is read now (it defines the request model); the model itself is loaded,
    verified and warmed up by :meth:`Runtime.running`. In a project that tracks with MLflow,
    a ``settings.model_uri`` is downloaded now (into a temporary folder kept until the runtime
    is closed, dropped or the process exits), its files checked against the SHA-256 digests
    registered with it and its bundle verified and loaded.

    Raises:
        ArtifactError: when there is no model at ``settings.model_dir``, its libraries'
            versions differ from the installed ones (unless allowed), or a registered
            version's files do not match their registered digests.
        TrackingError: when the registry cannot be reached or holds no such version.
        ValueError: when the prediction log cannot be written.
    """
    resources = ExitStack()
    try:
        runtime = _build(settings, resources)
    except BaseException:
        resources.close()
        raise
    # Removed when the server stops, or else when the runtime is dropped or the process exits.
    weakref.finalize(runtime, resources.close)
    return runtime


def _build(settings: ServingSettings, resources: ExitStack) -> Runtime:
    """The runtime of :func:`open_runtime`; the opened model is entered into ``resources``."""
    opened = resources.enter_context(
        open_model(settings.model, allow_version_mismatch=settings.allow_version_mismatch)
    )
    if opened.registered is not None:
        name, version = opened.registered["name"], opened.registered["version"]
        logger.info("fetched %s: %s version %s", settings.model, name, version)
    server = server_for(opened, settings.max_batch_rows, settings.allow_version_mismatch)
    metadata = server.metadata
    shadow_reasons = SHADOW_DROP_REASONS if settings.shadow_model is not None else ()
    metrics = ServingMetrics(
        metadata, settings.drift_report_dir, shadow_drop_reasons=shadow_reasons
    )
    log = None
    if settings.prediction_log is not None:
        on_drop = metrics.drop_log_entries
        log = PredictionLog(settings.prediction_log, settings.prediction_log_max_bytes, on_drop)
    shadow = _shadow(settings, metadata, metrics)
    sinks = [sink.submit for sink in (log, shadow) if sink is not None]
    body_model = request_model(metadata.feature_schema, settings.max_batch_rows)
    info = metadata.model_dump(mode="json", exclude={"files", "data", "package_versions"})
    return Runtime(
        settings=settings,
        model=opened,
        server=server,
        metrics=metrics,
        predictor=Predictor(server, body_model, metrics, sinks, settings.max_batch_rows),
        log=log,
        shadow=shadow,
        model_info=info | {"registered_model": opened.registered},
        api_key=settings.api_key.get_secret_value().encode() if settings.api_key else None,
        resources=resources,
    )


def _shadow(
    settings: ServingSettings, served: ModelMetadata, metrics: ServingMetrics
) -> ShadowScorer | None:
    """The shadow scorer ``settings`` ask for, its log beside the prediction log; else None.

    Raises:
        ValueError: when the shadow log cannot be written.
    """
    if settings.shadow_model is None:
        return None
    log = None
    if settings.prediction_log is not None:

        def on_drop(reason: str, entries: int) -> None:
            metrics.drop_shadow_records(f"log_{reason}", entries)

        path = shadow_log_path(settings.prediction_log)
        log = PredictionLog(path, settings.prediction_log_max_bytes, on_drop)
    return ShadowScorer(
        settings.shadow_model,
        served,
        metrics,
        log,
        max_batch_rows=settings.max_batch_rows,
        queue_records=settings.shadow_queue_records,
        allow_version_mismatch=settings.allow_version_mismatch,
    )
