"""The /predict hot path: JSON body -> validated rows -> (micro-batched) model -> JSON bytes."""

import json
import time

from pydantic import BaseModel, ValidationError

from .errors import MAX_PROBLEMS, Problem, RequestError, problems_from_validation
from .metrics import ServingMetrics
from .model_server import ModelServer, Status
from .prediction_log import LoggedBatch, PredictionLog

#: HTTP status of a refused body by the first rule it breaks; anything else is a 422.
#: Only the records list has a length limit, so ``too_long`` always means too many records.
_STATUS_BY_RULE = {"json_invalid": 400, "too_long": 413}


class Predictor:
    """Validate a request body with the schema's model and answer with predictions."""

    def __init__(
        self,
        server: ModelServer,
        body_model: type[BaseModel],
        metrics: ServingMetrics,
        log: PredictionLog | None,
        max_rows: int,
    ) -> None:
        """Predict with ``server``; check bodies of up to ``max_rows`` records."""
        self.server = server
        self.body_model = body_model
        self.metrics = metrics
        self.log = log
        self._classification = server.metadata.task == "classification"
        # Keys a body may hold: every field of every record, plus a few unknown ones to name.
        fields = len(server.schema.columns) + MAX_PROBLEMS
        self._max_keys = max_rows * fields + 1 + MAX_PROBLEMS

    def respond(self, body: bytes, request_id: str) -> bytes:
        """The JSON response to ``body``, or :class:`RequestError` naming each problem."""
        if self.server.status is not Status.READY:
            retry = {"Retry-After": "1"}
            raise RequestError(503, "not_ready", self.server.reason, headers=retry)
        rows = self._rows(body)
        try:
            predictions = self.server.predict(rows)
        except RequestError as error:  # a record the model cannot score
            self.metrics.validation_errors.labels(error.problems[0].rule).inc()
            raise
        self.metrics.observe_predictions(
            predictions.values if self._classification else None, len(rows)
        )
        version = self.server.metadata.version
        content: dict[str, object] = {"predictions": predictions.values}
        if predictions.probabilities is not None:
            content["probabilities"] = predictions.probabilities
        content |= {"model_version": version, "request_id": request_id}
        if self.log is not None:
            batch = LoggedBatch(
                timestamp=time.time(),
                model_version=version,
                request_id=request_id,
                feature_names=self.server.schema.feature_names,
                rows=rows,
                predictions=predictions.values,
                probabilities=predictions.probabilities,
            )
            self.log.submit(batch)
        return json.dumps(content, allow_nan=False).encode()

    def _rows(self, body: bytes) -> list[tuple[object, ...]]:
        """Each record's values in schema order, after every check of the record model."""
        # Every key ends with `":` (an escaped quote inside a string does not count), so
        # this undercounts keys: a flood of unknown keys is refused in milliseconds, unparsed.
        keys = body.count(b'":') - body.count(b'\\":')
        if keys > self._max_keys:
            self.metrics.validation_errors.labels("too_many_keys").inc()
            message = f"the body has {keys} keys or more; at most {self._max_keys} are allowed"
            problem = Problem("body", "too_many_keys", message)
            raise RequestError(422, "invalid_input", f"body: {message}", [problem])
        try:
            parsed = self.body_model.model_validate_json(body)
        except ValidationError as error:
            problems = problems_from_validation(error)
            first = problems[0]
            status = _STATUS_BY_RULE.get(first.rule, 422)
            self.metrics.validation_errors.labels(first.rule).inc()
            summary = f"{first.field}: {first.message}"
            if len(problems) > 1:
                summary += f" (and {len(problems) - 1} more problem(s))"
            code = {400: "malformed_json", 413: "too_many_records"}.get(status, "invalid_input")
            raise RequestError(status, code, summary, problems) from None
        records: list[BaseModel] = parsed.__dict__["records"]
        return [tuple(record.__dict__.values()) for record in records]
