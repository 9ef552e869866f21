"""The /predict hot path: JSON body -> validated rows -> (micro-batched) model -> JSON bytes."""

import json
import time

from pydantic import BaseModel, ValidationError

from .errors import RequestError, problems_from_validation
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
    ) -> None:
        """Predict with ``server``; check bodies with ``body_model``."""
        self.server = server
        self.body_model = body_model
        self.metrics = metrics
        self.log = log
        self._classification = server.metadata.task == "classification"

    def respond(self, body: bytes, request_id: str) -> bytes:
        """The JSON response to ``body``, or :class:`RequestError` naming each problem."""
        if self.server.status is not Status.READY:
            retry = {"Retry-After": "1"}
            raise RequestError(503, "not_ready", self.server.reason, headers=retry)
        rows = self._rows(body)
        predictions = self.server.predict(rows)
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
        return json.dumps(content).encode()

    def _rows(self, body: bytes) -> list[tuple[object, ...]]:
        """Each record's values in schema order, after every check of the record model."""
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
