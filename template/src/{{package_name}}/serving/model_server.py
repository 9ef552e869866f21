"""The served model: loaded in the background, then answering validated /predict bodies.

:class:`ModelServer` loads, verifies and warms up the bundle, then predicts record rows;
concurrent requests share one model call (:class:`MicroBatcher`). :class:`Predictor` is the
/predict hot path: JSON body -> validated rows -> (micro-batched) model -> JSON bytes, each
answered request then handed to the prediction log and the shadow model, neither awaited. A small
body that numpy alone scores is answered on the event loop when no model call runs: that takes
microseconds, less than handing it to a thread.
"""

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ValidationError

from ..core.bundle import (
    METADATA_FILE,
    ArtifactError,
    ModelBundle,
    ModelCard,
    ModelMetadata,
    check_versions,
    load_bundle,
    resolve_model_dir,
)
from ..core.models import OpenedModel
from ..core.pipeline import Outputs, Scored, score_in_range
from ..core.schema import FeatureSchema
from .metrics import ServingMetrics
from .prediction_log import LoggedBatch
from .schemas import MAX_PROBLEMS, Problem, RequestError, problems_from_validation
from .scoring import Rows, RowsTransform, compile_outputs, compile_rows, frame_of

logger = logging.getLogger(__name__)

#: The directories of an absolute path (kept out of /readyz, which anyone may read).
_ABSOLUTE_DIRECTORIES = re.compile(r"(?<![\w.])/(?:[^/\s'\"]+/)+")
#: The rule a record breaks when the model cannot score it.
UNSCORABLE = "unscorable_value"
#: HTTP status of a refused body by the first rule it breaks; anything else is a 422.
#: Only the records list has a length limit, so ``too_long`` always means too many records.
_STATUS_BY_RULE = {"json_invalid": 400, "too_long": 413}

#: Bodies up to this size (a few records) may be scored on the event loop (``respond_now``).
SCORE_NOW_MAX_BYTES = 8192

Row = tuple[object, ...]
_T = TypeVar("_T")
#: What receives each answered request without blocking it: the prediction log, the shadow.
Sink = Callable[[LoggedBatch], None]
#: What the model says about one row: the prediction and, for classification, class probabilities.
Outcome = tuple[object, dict[str, float] | None]


class ModelState(StrEnum):
    """Where the served model is in its start-up (the ``status`` of /readyz and /model)."""

    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass
class _Job:
    rows: Sequence[Row]
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Outcome] | None = None
    error: Exception | None = None


class MicroBatcher:
    """Predict rows with ``predict``, merging the jobs of concurrent callers.

    A thread that finds no model call running takes every pending job (up to ``max_rows``
    rows), predicts them together and hands each job its slice; threads whose job was taken
    just wait for it. A single request alone is predicted at once, so batching adds no delay.
    """

    def __init__(self, predict: Callable[[Sequence[Row]], list[Outcome]], max_rows: int) -> None:
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

    def predict_now(self, rows: Sequence[Row]) -> list[Outcome] | None:
        """One outcome per row, predicted alone in this thread; None while a call runs."""
        if not self._run_lock.acquire(blocking=False):
            return None
        try:
            return self._predict(rows)
        finally:
            self._run_lock.release()

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


def read_metadata(path: Path) -> tuple[Path, ModelMetadata]:
    """The version directory ``path`` means and its metadata (the model is not loaded yet).

    Raises:
        ArtifactError: when there is no model at ``path`` or its metadata is malformed.
    """
    directory = resolve_model_dir(path)
    try:
        text = (directory / METADATA_FILE).read_text(encoding="utf-8")
        return directory, ModelMetadata.model_validate_json(text)
    except (OSError, ValueError) as error:
        raise ArtifactError(f"cannot read {directory / METADATA_FILE}: {error}") from None


def warm_up_row(schema: FeatureSchema) -> Row:
    """A valid record: the middle of each numeric range, the first category otherwise."""
    values: list[object] = []
    for column in schema.columns:
        if column.kind == "numeric":
            low, high = column.minimum or 0.0, column.maximum or 0.0
            values.append((low + high) / 2)
        else:
            values.append((column.categories or [""])[0])
    return tuple(values)


class ModelServer:
    """Load and verify the bundle of ``directory``, warm it up, then predict record rows."""

    def __init__(
        self,
        directory: Path,
        metadata: ModelMetadata,
        max_batch_rows: int,
        allow_version_mismatch: bool = False,
        *,
        bundle: ModelBundle | None = None,
    ) -> None:
        """Serve the model in ``directory`` whose metadata was read as ``metadata``.

        ``bundle`` is that model already loaded and verified (e.g. fetched from a registry):
        :meth:`load` then only warms it up.
        """
        self.allow_version_mismatch = allow_version_mismatch
        self.directory = directory
        self.metadata = metadata
        self.state = ModelState.LOADING
        self.reason = "the model is loading"
        self._loaded = bundle
        self._bundle: ModelBundle | None = None
        self._preprocess: Any = None
        self._estimator: Any = None
        self._transform: RowsTransform = self._transform_frame
        self._outputs: Outputs | None = None
        self._numpy_only = False  # both fast paths: no pandas or scikit-learn per request
        self._labels = [str(label) for label in metadata.classes]
        self._batcher = MicroBatcher(self._predict_rows, max_batch_rows)

    @property
    def schema(self) -> FeatureSchema:
        """The feature schema records must follow."""
        return self.metadata.feature_schema

    @property
    def card(self) -> ModelCard | None:
        """The model card verified with the bundle at load; None before, or if it has none.

        Kept in memory: a registered version's folder is removed once it is loaded.
        """
        return self._bundle.card if self._bundle is not None else None

    def load(self) -> None:
        """Load, verify and warm up the bundle; on any failure stay unready and say why."""
        try:
            bundle = self._loaded or load_bundle(
                self.directory, allow_version_mismatch=self.allow_version_mismatch
            )
            if bundle.metadata != self.metadata:
                raise ArtifactError(f"{self.directory} changed while the service started")
            self._preprocess, self._estimator = bundle.model[:-1], bundle.model[-1]
            self._transform, self._outputs = self._fast_paths()
            pandas = self._transform == self._transform_frame
            self._numpy_only = self._outputs is not None and not pandas
            self._bundle = bundle
            self.predict([warm_up_row(self.schema)])
        except Exception as error:  # any failure must leave the service unready, not crash it
            reason = _ABSOLUTE_DIRECTORIES.sub("", str(error))
            self.state, self.reason = ModelState.FAILED, f"the model failed to load: {reason}"
            logger.exception("cannot serve %s", self.directory)
        else:
            self.state, self.reason = ModelState.READY, "ready"
            logger.info("serving model %s from %s", self.metadata.version, self.directory)

    def predict(self, rows: Sequence[Row]) -> list[Outcome]:
        """Predict validated record rows (values in schema order), sharing model calls."""
        return self._batcher.predict(rows)

    @property
    def scores_with_numpy(self) -> bool:
        """Whether numpy alone scores records: no pandas or scikit-learn call per request."""
        return self._numpy_only

    def predict_now(self, rows: Sequence[Row]) -> list[Outcome] | None:
        """:meth:`predict` in this thread, if numpy alone scores them and no call is running.

        A few rows then take microseconds. None if the model needs pandas or scikit-learn
        per call, or another call is running.
        """
        return self._batcher.predict_now(rows) if self._numpy_only else None

    def _predict_rows(self, rows: Sequence[Row]) -> list[Outcome]:
        """Predict rows the request model has checked against the feature schema.

        The rows already follow every schema rule (the request model is generated from it),
        so they go straight to the model in training order and dtypes, without a second check:
        through the numpy fast paths when the pipeline has them, else as a DataFrame.

        Raises:
            RequestError: 422 naming each record the model cannot score: a value so far
                outside the training range that the pipeline overflows (see core's
                ``score_in_range``; ``predict`` calls such rows ``out_of_range``).
        """
        if self._bundle is None:
            raise ArtifactError("the model is not loaded")
        matrix = self._transform(rows)
        scored = score_in_range(self._estimator, matrix, self.metadata.task, self._outputs)
        if len(scored.unscorable):
            raise self._unscorable(scored, rows)
        values = scored.predictions.tolist()
        if scored.probabilities is None:
            return [(value, None) for value in values]
        return [
            (value, dict(zip(self._labels, row, strict=True)))
            for value, row in zip(values, scored.probabilities.tolist(), strict=True)
        ]

    def _transform_frame(self, rows: Rows) -> npt.NDArray[np.float64]:
        """The pandas path: rows as a DataFrame through the pipeline's own ``transform``."""
        with np.errstate(all="ignore"):
            return np.asarray(self._preprocess.transform(frame_of(rows, self.schema)), "float64")

    def _fast_paths(self) -> tuple[RowsTransform, Outputs | None]:
        """The numpy fast paths the model has: rows to matrix, and matrix to outputs."""
        warm_up = [warm_up_row(self.schema)] * 2
        transform = compile_rows(self._preprocess, self.schema, warm_up)
        if transform is None:
            logger.info("scoring records through pandas: the pipeline has no numpy fast path")
            transform = self._transform_frame
        # Rows unlike the warm-up ones, laid out in memory as the transform lays out its own.
        layout = transform(warm_up)
        order: Literal["C", "F"] = "F" if layout.flags.f_contiguous else "C"
        probe = np.linspace(-4.0, 4.0, 8 * layout.shape[1]).reshape(8, -1)
        task = self.metadata.task
        outputs = compile_outputs(self._estimator, task, np.asarray(probe, order=order))
        if outputs is None:
            logger.info("the model's outputs come from scikit-learn: it has no numpy fast path")
        return transform, outputs

    def _unscorable(self, scored: Scored, rows: Sequence[Row]) -> RequestError:
        """A 422 naming, for each record the model cannot score, the field to blame."""
        columns = {column.name: column for column in self.schema.columns}
        positions = {name: position for position, name in enumerate(columns)}
        names = self._preprocess.get_feature_names_out()
        blamed = sorted(
            (int(row), str(names[column]))
            for row, column in zip(scored.unscorable, scored.blamed, strict=True)
        )
        problems = []
        for row, name in blamed[:MAX_PROBLEMS]:
            column = columns[name]
            value = float(cast(float, rows[row][positions[name]]))
            message = (
                f"the model cannot score {value:g}: the pipeline overflows; "
                f"seen in training: {column.minimum} to {column.maximum}"
            )
            problems.append(Problem(f"records[{row}].{name}", UNSCORABLE, message))
        summary = f"{problems[0].field}: {problems[0].message}"
        if len(blamed) > 1:
            summary += f" (and {len(blamed) - 1} more record(s))"
        return RequestError(422, "invalid_input", summary, problems)


def server_for(
    opened: OpenedModel, max_batch_rows: int, allow_version_mismatch: bool = False
) -> ModelServer:
    """A server of ``opened`` (not loaded yet): its metadata read, its library versions checked.

    Raises:
        ArtifactError: when there is no model there, its metadata is malformed, or its
            libraries' versions differ from the installed ones (unless allowed).
    """
    if opened.bundle is not None:  # fetched and verified: only the warm-up is left
        directory, metadata = opened.bundle.directory, opened.bundle.metadata
    else:
        directory, metadata = read_metadata(opened.folder)
    check_versions(metadata, allow_mismatch=allow_version_mismatch)
    return ModelServer(
        directory, metadata, max_batch_rows, allow_version_mismatch, bundle=opened.bundle
    )


class Predictor:
    """Validate a request body with the schema's model and answer with predictions."""

    def __init__(
        self,
        server: ModelServer,
        body_model: type[BaseModel],
        metrics: ServingMetrics,
        sinks: Sequence[Sink],
        max_rows: int,
    ) -> None:
        """Predict with ``server``; check bodies of up to ``max_rows`` records.

        Each answered request goes to every one of ``sinks`` (which must not block).
        """
        self.server = server
        self.body_model = body_model
        self.metrics = metrics
        self.sinks = sinks
        self._classification = server.metadata.task == "classification"
        # Keys a body may hold: every field of every record, plus a few unknown ones to name.
        self._features = len(server.schema.columns)
        self._id_names = server.schema.ids
        fields = self._features + len(self._id_names) + MAX_PROBLEMS
        self._max_keys = max_rows * fields + 1 + MAX_PROBLEMS

    def respond(self, body: bytes, request_id: str) -> bytes:
        """The JSON response to ``body``, or :class:`RequestError` naming each problem."""
        rows, ids = self._rows(body)
        return self._answer(rows, ids, self._predict(rows, self.server.predict), request_id)

    def respond_now(self, body: bytes, request_id: str) -> bytes | None:
        """:meth:`respond`, on the event loop, for a small body scored at once; else None.

        Small: at most :data:`SCORE_NOW_MAX_BYTES`; at once: see :meth:`ModelServer.predict_now`.
        """
        if len(body) > SCORE_NOW_MAX_BYTES or not self.server.scores_with_numpy:
            return None  # before parsing, which the thread pool would do again
        rows, ids = self._rows(body)
        outcomes = self._predict(rows, self.server.predict_now)
        return None if outcomes is None else self._answer(rows, ids, outcomes, request_id)

    def _predict(self, rows: list[Row], predict: Callable[[list[Row]], _T]) -> _T:
        """``predict(rows)``, counting a record the model cannot score as a refusal."""
        try:
            return predict(rows)
        except RequestError as error:
            self.metrics.count_refusal(error.problems[0].rule)
            raise

    def _answer(
        self, rows: list[Row], ids: list[Row] | None, outcomes: list[Outcome], request_id: str
    ) -> bytes:
        """The response body: predictions (ids, probabilities) in record order, and the log."""
        predictions = [value for value, _ in outcomes]
        probabilities = None
        if self._classification:
            probabilities = [classes or {} for _, classes in outcomes]
        self.metrics.observe_predictions(predictions if self._classification else None, len(rows))
        version = self.server.metadata.version
        content: dict[str, object] = {"predictions": predictions}
        if ids is not None:
            content["ids"] = [dict(zip(self._id_names, values, strict=True)) for values in ids]
        if probabilities is not None:
            content["probabilities"] = probabilities
        content |= {"model_version": version, "request_id": request_id}
        if self.sinks:
            batch = LoggedBatch(
                timestamp=time.time(),
                model_version=version,
                request_id=request_id,
                feature_names=self.server.schema.feature_names,
                rows=rows,
                predictions=predictions,
                probabilities=probabilities,
                id_names=self._id_names,
                ids=ids,
            )
            for sink in self.sinks:
                sink(batch)
        return json.dumps(content, allow_nan=False).encode()

    def _rows(self, body: bytes) -> tuple[list[Row], list[Row] | None]:
        """Each record's feature values in schema order and its ids, after every check.

        Records of one body must not share their ids (labels join predictions by them).
        """
        if self.server.state is not ModelState.READY:
            retry = {"Retry-After": "1"}
            raise RequestError(503, "not_ready", self.server.reason, headers=retry)
        # Every key ends with `":` (an escaped quote inside a string does not count), so
        # this undercounts keys: a flood of unknown keys is refused in milliseconds, unparsed.
        keys = body.count(b'":') - body.count(b'\\":')
        if keys > self._max_keys:
            self.metrics.count_refusal("too_many_keys")
            message = f"the body has {keys} keys or more; at most {self._max_keys} are allowed"
            problem = Problem("body", "too_many_keys", message)
            raise RequestError(422, "invalid_input", f"body: {message}", [problem])
        try:
            parsed = self.body_model.model_validate_json(body)
        except ValidationError as error:
            problems = problems_from_validation(error)
            first = problems[0]
            status = _STATUS_BY_RULE.get(first.rule, 422)
            self.metrics.count_refusal(first.rule)
            summary = f"{first.field}: {first.message}"
            if len(problems) > 1:
                summary += f" (and {len(problems) - 1} more problem(s))"
            code = {400: "malformed_json", 413: "too_many_records"}.get(status, "invalid_input")
            raise RequestError(status, code, summary, problems) from None
        records: list[BaseModel] = parsed.__dict__["records"]
        values = [tuple(record.__dict__.values()) for record in records]
        if not self._id_names:
            return values, None
        features = self._features
        ids = [row[features:] for row in values]
        self._refuse_repeated(ids)
        return [row[:features] for row in values], ids

    def _refuse_repeated(self, ids: list[Row]) -> None:
        """A 422 naming the records whose ids an earlier record of the body already has."""
        first: dict[tuple[str, ...], int] = {}
        problems = []
        for position, values in enumerate(ids):
            key = tuple(str(value) for value in values)  # ids compare as text
            earlier = first.setdefault(key, position)
            if earlier != position:
                message = f"the id of records[{earlier}] again: ids must be unique in a request"
                field = f"records[{position}].{self._id_names[0]}"
                problems.append(Problem(field, "duplicate_id", message))
        if problems:
            self.metrics.count_refusal("duplicate_id")
            summary = f"{problems[0].field}: {problems[0].message}"
            if len(problems) > 1:
                summary += f" (and {len(problems) - 1} more record(s))"
            raise RequestError(422, "invalid_input", summary, problems)
