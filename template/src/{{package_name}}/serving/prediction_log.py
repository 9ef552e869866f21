"""Prediction log: one JSON object per predicted record, appended off the request's hot path.

Each line holds ``timestamp`` (UTC, ISO 8601), ``model_version``, ``request_id``, ``inputs`` (the
record as sent: feature name -> value), ``prediction``, for classification ``probabilities``
(class label -> probability) and, when the model has id columns, ``ids`` (name -> id). A shadow
model's log (see :mod:`.shadow`) has the same lines plus ``shadow``: ``champion_version`` and
``champion_prediction``, what the served model answered for the same record.
Requests only put their batch on a bounded queue; a background thread serializes and writes
it. When the file would grow past ``max_bytes`` it is renamed to ``<name>.1`` (replacing the
previous one) and a new file begins, so the log never takes more than about twice ``max_bytes``.

Nothing is lost silently: entries dropped on a full queue, a failed write (disk full, file
replaced by a directory or a symbolic link, which is never followed) or at shutdown are counted
by reason, and a failing log is logged.
Shutdown waits at most ``CLOSE_TIMEOUT_SECONDS`` for the writer, whatever its state.
"""

import contextlib
import io
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

#: Batches waiting to be written, at most; beyond that new batches are dropped and counted.
QUEUE_SIZE = 10_000
#: Longest shutdown wait for queued entries to be written; the rest are dropped and counted.
CLOSE_TIMEOUT_SECONDS = 5.0
#: Why entries were not written (the label of the dropped-entries counter).
DROP_REASONS = ("queue_full", "write_error", "shutdown")
#: ``on_drop(reason, entries)``: told about every entry that was not written.
OnDrop = Callable[[str, int], None]


@dataclass(frozen=True)
class LoggedBatch:
    """The records of one request and what the model said about them."""

    timestamp: float
    model_version: str
    request_id: str
    feature_names: Sequence[str]
    rows: Sequence[Sequence[object]]
    predictions: Sequence[object]
    probabilities: Sequence[dict[str, float]] | None
    id_names: Sequence[str] = ()
    ids: Sequence[Sequence[object]] | None = None
    #: A shadow model's batch only: what the served model answered for the same records.
    champion_version: str | None = None
    champion_predictions: Sequence[object] | None = None

    def lines(self) -> str:
        """One JSON line per record."""
        timestamp = datetime.fromtimestamp(self.timestamp, UTC).isoformat()
        lines = []
        for position, row in enumerate(self.rows):
            entry: dict[str, object] = {
                "timestamp": timestamp,
                "model_version": self.model_version,
                "request_id": self.request_id,
                "inputs": dict(zip(self.feature_names, row, strict=True)),
                "prediction": self.predictions[position],
            }
            if self.probabilities is not None:
                entry["probabilities"] = self.probabilities[position]
            if self.ids is not None:
                entry["ids"] = dict(zip(self.id_names, self.ids[position], strict=True))
            if self.champion_predictions is not None:
                entry["shadow"] = {
                    "champion_version": self.champion_version,
                    "champion_prediction": self.champion_predictions[position],
                }
            lines.append(json.dumps(entry, allow_nan=False) + "\n")
        return "".join(lines)


class PredictionLog:
    """Append batches to a size-capped JSON-lines file from a background thread."""

    def __init__(self, path: Path, max_bytes: int, on_drop: OnDrop) -> None:
        """Write to ``path``; tell ``on_drop`` about every entry that is not written.

        Raises:
            ValueError: when ``path`` cannot be created or appended to (a directory, no
                permission, a missing mount), so the service refuses to start.
        """
        self.path = path
        self.max_bytes = max_bytes
        self._on_drop = on_drop
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_NONBLOCK: a FIFO without a reader is refused instead of blocking the start.
            os.close(_open_no_follow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK))
        except OSError as error:
            reason = error.strerror or str(error)
            if path.is_symlink():
                reason = "it is a symbolic link, which the log never writes through: name a file"
            raise ValueError(f"the prediction log {path} cannot be written: {reason}") from None
        self._queue: queue.Queue[LoggedBatch | None] = queue.Queue(QUEUE_SIZE)
        self._stopping = threading.Event()
        # A daemon: a writer stuck in a system call cannot keep the process alive.
        self._thread = threading.Thread(
            target=self._write_forever, name="prediction-log", daemon=True
        )

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def submit(self, batch: LoggedBatch) -> None:
        """Queue ``batch`` without blocking; drop it (and count it) when the queue is full."""
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self._on_drop("queue_full", len(batch.rows))

    def close(self, timeout: float | None = None) -> None:
        """Write what is queued within ``timeout`` seconds, then stop the writer.

        Entries still queued after that are dropped and counted as ``shutdown``. The default
        timeout is ``CLOSE_TIMEOUT_SECONDS``.
        """
        timeout = CLOSE_TIMEOUT_SECONDS if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self._stopping.set()
        left = 0
        while True:
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                break
            left += len(batch.rows) if batch is not None else 0
        if left or self._thread.is_alive():
            self._on_drop("shutdown", left)
            logger.error(
                "prediction log %s: the writer did not finish within %s s; %d entries dropped",
                self.path,
                timeout,
                left,
            )

    def _write_forever(self) -> None:
        stream: io.FileIO | None = None
        failing = False
        while not self._stopping.is_set() and (batch := self._queue.get()) is not None:
            try:
                stream = self._write(stream, batch.lines().encode("utf-8"))
            except (OSError, ValueError) as error:
                self._on_drop("write_error", len(batch.rows))
                if not failing:
                    logger.error(
                        "prediction log %s: write failed (%s); entries are dropped and counted "
                        "in prediction_log_dropped_total until writes succeed again",
                        self.path,
                        error,
                    )
                _closed(stream)
                failing, stream = True, None
            else:
                if failing:
                    logger.warning("prediction log %s: writes succeed again", self.path)
                failing = False
        _closed(stream)

    def _write(self, stream: io.FileIO | None, data: bytes) -> io.FileIO:
        """Append ``data`` unbuffered (a failure belongs to this batch), rotating first."""
        if stream is None:
            stream = io.FileIO(self.path, "a", opener=_open_no_follow)
        size = os.fstat(stream.fileno()).st_size
        if size and size + len(data) > self.max_bytes:
            stream.close()
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            stream = io.FileIO(self.path, "a", opener=_open_no_follow)
        stream.write(data)
        return stream


def _open_no_follow(path: str | Path, flags: int) -> int:
    """Open ``path`` with ``flags``, refusing a symbolic link (ELOOP) instead of following it.

    Records hold every input: a link planted at the log's path must not redirect them.
    """
    return os.open(path, flags | os.O_NOFOLLOW, 0o644)


def _closed(stream: io.FileIO | None) -> None:
    """Close ``stream`` if open, ignoring a failure (the data was counted already)."""
    if stream is not None:
        with contextlib.suppress(OSError):
            stream.close()
