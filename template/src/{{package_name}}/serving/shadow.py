"""Shadow scoring: a second model scores every answered request off the answer path.

The served model answers; :class:`ShadowScorer` only receives each answered request (its
records, ids and the served predictions) on a bounded queue, without waiting. A thread loads
the shadow model in the background, after the served one: a version folder or a registered
version, resolved to one version once, verified like any bundle, and refused when it is the
served model itself or cannot score the same requests (task, target, ids, classes or features
differ). Another thread then scores what is queued, the requests of a short window per model
call (it shares the interpreter with the answers: fewer, larger calls take less of it),
counts how often the shadow agrees with the served model and logs its predictions beside the
served ones (``<log>.shadow.jsonl``: prediction-log lines that also hold the served
prediction, under ``shadow``). Whatever the shadow does (fails to load, raises, is slow),
answers and /readyz are unchanged: the records it does not score or log are counted by reason.
"""

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..core.bundle import (
    ArtifactError,
    ModelMetadata,
    incompatibilities,
    resolve_model_dir,
)
from ..core.models import TrackingError, open_model
from . import prediction_log
from .metrics import ServingMetrics
from .model_server import ModelServer, ModelState, Outcome, server_for
from .prediction_log import LoggedBatch, PredictionLog
from .startup import FIRST_PAUSE_SECONDS, LONGEST_PAUSE_SECONDS

logger = logging.getLogger(__name__)

#: Why records were not scored or logged in the shadow (the ``shadow_dropped`` label).
SHADOW_DROP_REASONS = (
    "queue_full",
    "not_ready",
    "model_error",
    "shutdown",
    "log_queue_full",
    "log_write_error",
    "log_shutdown",
)
#: How long a model call waits for more requests after its first one, in seconds.
BATCH_WINDOW_SECONDS = 0.05


def resolved_reference(reference: str, *, allow_version_mismatch: bool = False) -> str:
    """``reference`` as one version: a registered alias by its number, a models root by folder.

    For worker processes that must all shadow the same version. Unchanged when it cannot be
    resolved now: each worker then tries on its own and says why on /model.
    """
    try:
        with open_model(reference, allow_version_mismatch=allow_version_mismatch) as opened:
            if opened.registered is not None:
                return f"models:/{opened.registered['name']}/{opened.registered['version']}"
            return str(resolve_model_dir(opened.folder))
    except Exception as error:  # the shadow must never keep the service from starting
        logger.warning("shadow model %s cannot be resolved now: %s", reference, error)
        return reference


class ShadowScorer:
    """Score answered requests with the shadow model in a thread, and log and count them."""

    def __init__(
        self,
        reference: str,
        served: ModelMetadata,
        metrics: ServingMetrics,
        log: PredictionLog | None,
        *,
        max_batch_rows: int,
        queue_records: int,
        allow_version_mismatch: bool = False,
        pauses: tuple[float, float] = (FIRST_PAUSE_SECONDS, LONGEST_PAUSE_SECONDS),
    ) -> None:
        """Shadow the model of ``served`` with the one ``reference`` names (not loaded yet).

        At most ``queue_records`` records wait to be scored; one model call takes requests
        up to ``max_batch_rows`` records. ``pauses`` are the first and the longest pause
        between attempts to fetch a registered version while its registry does not answer.
        """
        self.reference = reference
        self.state = ModelState.LOADING
        self.reason = f"loading {reference}"
        self.server: ModelServer | None = None
        self.registered: dict[str, Any] | None = None
        self._served = served
        self._metrics = metrics
        self._log = log
        self._max_rows = max_batch_rows
        self._capacity = queue_records
        self._allow_version_mismatch = allow_version_mismatch
        self._pauses = pauses
        self._queue: queue.SimpleQueue[LoggedBatch | None] = queue.SimpleQueue()
        self._queued = 0  # records on the queue or being scored
        self._queued_lock = threading.Lock()
        self._stopping = threading.Event()
        self._abandoned = False  # shutdown gave up waiting: what is still scored is dropped
        self._failing = False
        # Daemons: a shadow stuck in a model call or a fetch cannot keep the process alive.
        self._loader = threading.Thread(target=self._load, name="shadow-load", daemon=True)
        self._scorer = threading.Thread(target=self._score_forever, name="shadow", daemon=True)

    def start(self) -> None:
        """Start loading the shadow model, the scoring thread and the shadow log's writer."""
        if self._log is not None:
            self._log.start()
        self._loader.start()
        self._scorer.start()

    def submit(self, batch: LoggedBatch) -> None:
        """Queue an answered request without blocking; count it as dropped if it cannot wait."""
        records = len(batch.rows)
        if self.state is not ModelState.READY:
            self._metrics.drop_shadow_records("not_ready", records)
            return
        with self._queued_lock:
            full = self._queued + records > self._capacity
            if not full:
                self._queued += records
        if full:
            self._metrics.drop_shadow_records("queue_full", records)
        else:
            self._queue.put(batch)

    def describe(self) -> dict[str, Any]:
        """What /model says of the shadow: its source, status and, once read, its version."""
        metadata = self.server.metadata if self.server is not None else None
        return {
            "source": self.reference,
            "status": self.state.value,
            "reason": self.reason,
            "name": metadata.name if metadata else None,
            "version": metadata.version if metadata else None,
            "estimator": metadata.estimator if metadata else None,
            "registered_model": self.registered,
        }

    def close(self, timeout: float | None = None) -> None:
        """Score and log what is queued within ``timeout`` seconds, then stop.

        What is still queued or being scored after that is dropped and counted as
        ``shutdown``; the shadow log then gets what is left of ``timeout`` (default: the
        prediction log's ``CLOSE_TIMEOUT_SECONDS``).
        """
        timeout = prediction_log.CLOSE_TIMEOUT_SECONDS if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self._stopping.set()  # ends a fetch's retries
        self._queue.put(None)
        if self._scorer.is_alive():
            self._scorer.join(timeout)
        if self._scorer.is_alive():
            self._abandoned = True
            with self._queued_lock:
                left, self._queued = self._queued, 0
            self._metrics.drop_shadow_records("shutdown", left)
            logger.error(
                "shadow model: scoring did not finish within %s s; %d record(s) dropped",
                timeout,
                left,
            )
        if self._log is not None:
            self._log.close(max(0.0, deadline - time.monotonic()))

    def _load(self) -> None:
        """Open, verify and warm up the shadow model, retrying a registry that does not answer."""
        pause, longest = self._pauses
        while not self._stopping.is_set():
            try:
                self._open()
            except TrackingError as error:
                if not error.temporary:
                    self._fail(error)
                    return
                self.reason = f"fetching {self.reference} failed, retrying in {pause:g} s: {error}"
                logger.warning("shadow model: %s", self.reason)
                if self._stopping.wait(pause):
                    return
                pause = min(2 * pause, longest)
            except Exception as error:  # any failure leaves the shadow off, never the service
                self._fail(error)
                return
            else:
                return

    def _open(self) -> None:
        """Load the shadow model once; refuse it when it cannot shadow the served model."""
        with open_model(
            self.reference, allow_version_mismatch=self._allow_version_mismatch
        ) as opened:
            server = server_for(opened, self._max_rows, self._allow_version_mismatch)
            metadata = server.metadata
            if metadata.files == self._served.files:  # the same digests: the same bundle
                raise ArtifactError(
                    f"it is the served model itself (version {metadata.version}): name another"
                )
            if problems := incompatibilities(self._served, metadata):
                raise ArtifactError(
                    "it cannot score the served model's requests: " + "; ".join(problems)
                )
            server.load()
            if server.state is not ModelState.READY:
                raise ArtifactError(server.reason)
        self.server, self.registered = server, opened.registered
        self._metrics.shadow_model_loaded(metadata)
        self.reason, self.state = "ready", ModelState.READY
        logger.info("shadow model %s scores every request", metadata.version)

    def _fail(self, error: Exception) -> None:
        self.reason = f"the shadow model {self.reference} is not used: {error}"
        self.state = ModelState.FAILED
        logger.error("%s", self.reason)

    def _score_forever(self) -> None:
        """Score queued requests in model calls of up to ``max_batch_rows`` records.

        A call waits :data:`BATCH_WINDOW_SECONDS` from its first request for more: one call
        per window rather than one per request keeps the shadow's share of the interpreter,
        which the answers need, small.
        """
        held: LoggedBatch | None = None
        stopping = False
        while not stopping:
            first = held if held is not None else self._queue.get()
            held = None
            if first is None:
                return
            batches, records = [first], len(first.rows)
            closes = time.monotonic() + BATCH_WINDOW_SECONDS
            while records < self._max_rows:
                try:
                    following = self._queue.get(timeout=max(0.0, closes - time.monotonic()))
                except queue.Empty:
                    break
                if following is None:
                    stopping = True
                    break
                if records + len(following.rows) > self._max_rows:
                    held = following
                    break
                batches.append(following)
                records += len(following.rows)
            self._score(batches)
            with self._queued_lock:
                self._queued = max(0, self._queued - records)

    def _score(self, batches: Sequence[LoggedBatch]) -> None:
        """Score ``batches`` in one call; after a failure, each alone (it stays with its own)."""
        server = self.server  # set before any request is queued
        try:
            if server is None:
                raise ArtifactError("the shadow model is not loaded")
            outcomes = server.predict([tuple(row) for batch in batches for row in batch.rows])
        except Exception as error:  # a shadow that raises must not stop the thread
            if len(batches) > 1:
                for batch in batches:
                    self._score([batch])
                return
            self._metrics.drop_shadow_records("model_error", len(batches[0].rows))
            if not self._failing:
                logger.error(
                    "shadow model: scoring failed (%s); records are dropped and counted in "
                    "shadow_dropped_total until it scores again",
                    error,
                )
            self._failing = True
            return
        if self._failing:
            logger.warning("shadow model: scoring succeeds again")
        self._failing = False
        start = 0
        for batch in batches:
            stop = start + len(batch.rows)
            self._record(batch, outcomes[start:stop], server.metadata.version)
            start = stop

    def _record(self, served: LoggedBatch, outcomes: list[Outcome], version: str) -> None:
        """Count the agreement with the served predictions and log the shadow's."""
        if self._abandoned:
            return  # counted as shutdown already
        predictions = [value for value, _ in outcomes]
        self._metrics.observe_shadow(predictions, served.predictions)
        if self._log is None:
            return
        probabilities = None
        if served.probabilities is not None:
            probabilities = [classes or {} for _, classes in outcomes]
        shadow = replace(
            served,
            model_version=version,
            predictions=predictions,
            probabilities=probabilities,
            champion_version=served.model_version,
            champion_predictions=served.predictions,
        )
        self._log.submit(shadow)
