"""Prediction log: one JSON object per predicted record, appended off the request's hot path.

Each line holds ``timestamp`` (UTC, ISO 8601), ``model_version``, ``request_id``, ``inputs`` (the
record as sent: feature name -> value), ``prediction`` and, for classification,
``probabilities`` (class label -> probability). Requests only put their batch on a bounded
queue; a background thread serializes and writes it. When the file would grow past
``max_bytes`` it is renamed to ``<name>.1`` (replacing the previous one) and a new file begins,
so the log never takes more than about twice ``max_bytes``.
"""

import json
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: Batches waiting to be written, at most; beyond that new batches are dropped and counted.
QUEUE_SIZE = 10_000


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
            lines.append(json.dumps(entry, allow_nan=False) + "\n")
        return "".join(lines)


class PredictionLog:
    """Append batches to a size-capped JSON-lines file from a background thread."""

    def __init__(self, path: Path, max_bytes: int, on_drop: Callable[[], None]) -> None:
        """Write to ``path``; call ``on_drop`` for each batch dropped on a full queue."""
        self.path = path
        self.max_bytes = max_bytes
        self._on_drop = on_drop
        self._queue: queue.Queue[LoggedBatch | None] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(target=self._write_forever, name="prediction-log")

    def start(self) -> None:
        """Create the directory and start the writer thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def submit(self, batch: LoggedBatch) -> None:
        """Queue ``batch`` without blocking; drop it (and count it) when the queue is full."""
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self._on_drop()

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        self._queue.put(None)
        self._thread.join()

    def _write_forever(self) -> None:
        stream = self.path.open("a", encoding="utf-8")
        size = self.path.stat().st_size
        try:
            while (batch := self._queue.get()) is not None:
                text = batch.lines()
                encoded = len(text.encode("utf-8"))
                if size and size + encoded > self.max_bytes:
                    stream.close()
                    os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                    stream, size = self.path.open("a", encoding="utf-8"), 0
                stream.write(text)
                size += encoded
                if self._queue.empty():
                    stream.flush()
        finally:
            stream.close()
