"""Micro-batching: concurrent requests share one model call (scikit-learn prefers bulk work).

A thread that finds no model call running takes every pending job (up to ``max_rows`` rows),
predicts them together and hands each job its slice; threads whose job was taken just wait
for it. A single request alone is predicted at once, so batching adds no delay.
"""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

Row = tuple[object, ...]
#: What the model says about one row: the prediction and, for classifiers, class probabilities.
Outcome = tuple[object, dict[str, float] | None]
PredictRows = Callable[[Sequence[Row]], list[Outcome]]


@dataclass
class _Job:
    rows: Sequence[Row]
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Outcome] | None = None
    error: Exception | None = None


class MicroBatcher:
    """Predict rows with ``predict``, merging the jobs of concurrent callers."""

    def __init__(self, predict: PredictRows, max_rows: int) -> None:
        """``predict`` maps rows to one outcome per row, in order."""
        self._predict = predict
        self._max_rows = max_rows
        self._pending: list[_Job] = []
        self._pending_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def predict(self, rows: Sequence[Row]) -> list[Outcome]:
        """One outcome per row; raises what the model call raised."""
        job = _Job(rows)
        with self._pending_lock:
            self._pending.append(job)
        with self._run_lock:
            while not job.done.is_set():
                self._run(self._take_pending())
        if job.error is not None:
            raise job.error
        return cast(list[Outcome], job.result)

    def _take_pending(self) -> list[_Job]:
        """Pending jobs, oldest first, up to ``max_rows`` rows (at least one job)."""
        with self._pending_lock:
            taken, rows = 0, 0
            for job in self._pending:
                if taken and rows + len(job.rows) > self._max_rows:
                    break
                taken, rows = taken + 1, rows + len(job.rows)
            jobs, self._pending = self._pending[:taken], self._pending[taken:]
        return jobs

    def _run(self, jobs: list[_Job]) -> None:
        try:
            result = self._predict([row for job in jobs for row in job.rows])
        except Exception as error:
            if len(jobs) == 1:
                jobs[0].error = error
            else:  # predict each job alone, so a failure stays with the job that caused it
                for job in jobs:
                    self._run([job])
        else:
            start = 0
            for job in jobs:
                stop = start + len(job.rows)
                job.result = result[start:stop]
                start = stop
        finally:
            for job in jobs:
                job.done.set()
