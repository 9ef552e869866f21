"""The served model: loaded in the background, warmed up, then ready to predict records."""

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..core import (
    METADATA_FILE,
    PREDICTION_COLUMN,
    PROBABILITY_PREFIX,
    ArtifactError,
    FeatureSchema,
    ModelBundle,
    ModelMetadata,
    load_bundle,
    predict_frame,
    resolve_model_dir,
)
from .batching import MicroBatcher, Outcome, Row
from .errors import MAX_PROBLEMS, Problem, RequestError

logger = logging.getLogger(__name__)

#: The directories of an absolute path (kept out of /readyz, which anyone may read).
_ABSOLUTE_DIRECTORIES = re.compile(r"(?<![\w.])/(?:[^/\s'\"]+/)+")
#: The rule a record breaks when the model cannot score it.
UNSCORABLE = "unscorable_value"


class Status(StrEnum):
    """Where the model is in its start-up."""

    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class Predictions:
    """Predicted values for a batch of records and, for classification, class probabilities."""

    values: list[object]
    probabilities: list[dict[str, float]] | None


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
    ) -> None:
        """Serve the model in ``directory`` whose metadata was read as ``metadata``."""
        self.allow_version_mismatch = allow_version_mismatch
        self.directory = directory
        self.metadata = metadata
        self.status = Status.LOADING
        self.reason = "the model is loading"
        self._bundle: ModelBundle | None = None
        # A plain object index: pandas' Arrow-backed string labels make column lookups slow.
        self._columns = pd.Index(metadata.feature_schema.feature_names, dtype=object)
        self._labels = [str(label) for label in metadata.classes]
        self._probability_columns = [f"{PROBABILITY_PREFIX}{label}" for label in self._labels]
        self._batcher = MicroBatcher(self._predict_rows, max_batch_rows)
        self._loaded = threading.Event()

    @property
    def schema(self) -> FeatureSchema:
        """The feature schema records must follow."""
        return self.metadata.feature_schema

    def load(self) -> None:
        """Load, verify and warm up the bundle; on any failure stay unready and say why."""
        try:
            bundle = load_bundle(self.directory, allow_version_mismatch=self.allow_version_mismatch)
            if bundle.metadata != self.metadata:
                raise ArtifactError(f"{self.directory} changed while the service started")
            self._bundle = bundle
            self.predict([warm_up_row(self.schema)])
        except Exception as error:  # any failure must leave the service unready, not crash it
            reason = _ABSOLUTE_DIRECTORIES.sub("", str(error))
            self.status, self.reason = Status.FAILED, f"the model failed to load: {reason}"
            logger.exception("cannot serve %s", self.directory)
        else:
            self.status, self.reason = Status.READY, "ready"
            logger.info("serving model %s from %s", self.metadata.version, self.directory)
        finally:
            self._loaded.set()

    def wait_loaded(self, timeout: float) -> bool:
        """Wait until loading has ended (ready or failed); False on timeout."""
        return self._loaded.wait(timeout)

    def predict(self, rows: Sequence[Row]) -> Predictions:
        """Predict validated record rows (values in schema order), sharing model calls."""
        outcomes = self._batcher.predict(rows)
        values = [value for value, _ in outcomes]
        if self.metadata.task != "classification":
            return Predictions(values, None)
        return Predictions(values, [probabilities or {} for _, probabilities in outcomes])

    def _predict_rows(self, rows: Sequence[Row]) -> list[Outcome]:
        """Predict rows the request model has checked against the feature schema.

        The rows already follow every schema rule (the request model is generated from it),
        so they go straight to the model in training order and dtypes, without a second check.

        Raises:
            RequestError: 422 naming each record the model cannot score: a value so far
                outside the training range that the pipeline overflows (inf or NaN).
        """
        if self._bundle is None:
            raise ArtifactError("the model is not loaded")
        schema = self.schema
        if not schema.categorical:
            frame = pd.DataFrame(np.asarray(rows, dtype="float64"), columns=self._columns)
        else:
            frame = pd.DataFrame.from_records(rows, columns=self._columns)
            frame[schema.numeric] = frame[schema.numeric].astype("float64")
        model = self._bundle.model
        with np.errstate(over="ignore", invalid="ignore"):  # overflows are found below
            try:
                result = predict_frame(model, frame, self.metadata.task)
            except ValueError:  # scikit-learn refuses the infinity an overflow produced
                if not (failed := ~np.isfinite(self._distances(model, frame)).all(axis=1)).any():
                    raise
            else:
                failed = ~np.isfinite(result.select_dtypes("number").to_numpy()).all(axis=1)
            if failed.any():
                raise self._unscorable(self._distances(model, frame), frame, failed)
        values = result[PREDICTION_COLUMN].tolist()
        if self.metadata.task != "classification":
            return [(value, None) for value in values]
        matrix = result[self._probability_columns].to_numpy().tolist()
        return [
            (value, dict(zip(self._labels, row, strict=True)))
            for value, row in zip(values, matrix, strict=True)
        ]

    def _distances(self, model: Any, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Per record, each numeric feature's absolute standardised value (inf: overflow)."""
        preprocess = model[:-1]
        names = list(preprocess.get_feature_names_out())
        transformed = np.asarray(preprocess.transform(frame), dtype="float64")
        numeric = np.abs(transformed[:, [names.index(name) for name in self.schema.numeric]])
        return np.where(np.isnan(numeric), np.inf, numeric)

    def _unscorable(
        self, distances: npt.NDArray[np.float64], frame: pd.DataFrame, failed: npt.ArrayLike
    ) -> RequestError:
        """A 422 naming, for each failed record, the numeric field furthest from training."""
        columns = {column.name: column for column in self.schema.columns}
        problems = []
        for position in np.flatnonzero(failed)[:MAX_PROBLEMS]:
            column = columns[self.schema.numeric[int(np.argmax(distances[position]))]]
            value = float(frame.iloc[position][column.name])
            message = (
                f"the model cannot score {value:g}: the pipeline overflows; "
                f"seen in training: {column.minimum} to {column.maximum}"
            )
            problems.append(Problem(f"records[{position}].{column.name}", UNSCORABLE, message))
        count = int(np.count_nonzero(failed))
        summary = f"{problems[0].field}: {problems[0].message}"
        if count > 1:
            summary += f" (and {count - 1} more record(s))"
        return RequestError(422, "invalid_input", summary, problems)
