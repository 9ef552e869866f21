"""Retrain on production data: assemble, train a candidate, make it the challenger, reproduce it.

``retrain`` joins each id's latest logged prediction in ``retrain.window`` to its latest label,
keeps the newest ``retrain.max_rows``, holds out the newest ``retrain.comparison_share`` of them
by prediction time as the comparison set, and trains on the rest (plus ``data.train_path`` with
``retrain.include_base_data``) with the team's config and seed. Both files are kept under
``retrain.data_dir`` and named, with their digests, in the candidate's metadata, with the labels
store's segments and the logs read: :func:`reproduce` trains the same candidate again from them.
"""

import logging
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..core.bundle import (
    ModelBundle,
    ModelMetadata,
    RetrainSnapshot,
    create_version_dir,
    incompatibilities,
    sha256_file,
)
from ..core.config import TrainConfig, parse_config, parse_duration
from ..core.data import read_table, write_table
from ..core.metrics import Task
from ..core.models import training_recorder
from ..core.pipeline import predict_frame
from ..core.promotion import Champions, LocalChampions
from ..core.schema import DataError
from ..core.training import train_model
from ..core.workflow import run_training
from .inputs import CurrentBatch, log_files, read_current
from .labels import read_labels, segment_names

logger = logging.getLogger(__name__)

TRAIN_FILE = "train.parquet"
COMPARISON_FILE = "comparison.parquet"
#: The labelled live records a challenger in shadow is decided on (``promotion.shadow``).
SHADOW_FILE = "shadow.parquet"


@dataclass(frozen=True)
class Assembled:
    """The training and comparison files of one candidate, and what they came from."""

    train: Path
    comparison: Path
    snapshot: RetrainSnapshot


@dataclass(frozen=True)
class ShadowRows:
    """A challenger's labelled live records from the shadow log, and what it answered."""

    #: The logged features and the target, oldest first.
    rows: pd.DataFrame
    #: The same records' shadow lines: its prediction, the champion's (``champion_prediction``).
    predictions: pd.DataFrame


@dataclass(frozen=True)
class Candidate:
    """A retrained model: its version (the challenger's when it passed), gate and data."""

    version: str | None
    directory: Path
    passed: bool
    failures: list[str]
    assembled: Assembled

    def as_dict(self) -> dict[str, Any]:
        """What ``retrain`` prints."""
        snapshot = self.assembled.snapshot
        return {
            "challenger": self.version,
            "directory": str(self.directory),
            "quality_gate": "passed" if self.passed else "failed",
            "failures": self.failures,
            "train": str(self.assembled.train),
            "comparison": str(self.assembled.comparison),
            "rows": {
                "base": snapshot.base_rows,
                "labelled": snapshot.labelled_rows,
                "comparison": snapshot.comparison_rows,
            },
        }


def labelled_rows(
    config: TrainConfig, start: datetime, end: datetime
) -> tuple[pd.DataFrame, list[Path]]:
    """Each id's latest prediction logged in ``[start, end)`` with its latest label, by time.

    Columns: the logged features, the target and ``logged_at``.

    Raises:
        DataError: when no prediction of the window has a label.
    """
    logs = config.retrain.logs
    try:
        batch = read_current(logs, since=start, until=end)
        joined = latest_labelled(batch, config)
    except DataError as error:
        raise DataError(f"nothing to retrain on: {error}") from None
    sources = log_files(logs) if logs.is_dir() else [logs]
    return joined.reset_index(drop=True), sources


def latest_labelled(batch: CurrentBatch, config: TrainConfig) -> pd.DataFrame:
    """Each id's latest row of a prediction log's ``batch`` with its latest label, by time.

    Columns: the logged features, the target and ``logged_at``; the index is each row's
    position in ``batch`` (where its predictions are).

    Raises:
        DataError: when no row carries ids, or none has a label in ``retrain.labels``.
    """
    store, target = config.retrain.labels, config.data.target
    if batch.ids is None or batch.timestamps is None or not batch.ids.notna().any():
        raise DataError(f"no prediction in {batch.source} carries ids")
    rows = batch.frame.assign(id_key=batch.ids, logged_at=batch.timestamps)
    rows = rows[rows["id_key"].notna()].sort_values("logged_at", kind="stable")
    latest = rows.drop_duplicates("id_key", keep="last")
    labels = read_labels(store).set_index("id_key")["label"]
    joined = latest.join(labels, on="id_key", how="inner")  # keeps the batch's positions
    if joined.empty:
        raise DataError(
            f"none of the {len(latest)} id(s) predicted between {batch.window_start} and "
            f"{batch.window_end} has a label in {store}"
        )
    joined[target] = _target_values(joined["label"], config)
    columns = [name for name in batch.frame.columns if name not in {target, "id_key"}]
    ordered = joined.sort_values("logged_at", kind="stable")
    return ordered[[*columns, target, "logged_at"]]


def _target_values(labels: pd.Series, config: TrainConfig) -> pd.Series:
    """Labels as target values: numbers for regression; integer classes when they all are."""
    numbers = pd.to_numeric(labels, errors="coerce")
    if config.task == "regression":
        return numbers.astype("float64")
    if numbers.notna().all() and bool(np.all(np.mod(numbers, 1) == 0)):
        return numbers.astype("int64")
    return labels.astype(str)


def shadow_rows(
    config: TrainConfig, versions: Collection[str], start: datetime, end: datetime
) -> ShadowRows:
    """Each id's latest shadow line of ``versions`` logged in ``[start, end)`` with its label.

    The shadow lines are in the folder of logs ``retrain.logs``, or, for one log, in the
    server's shadow log beside it (``predictions.jsonl`` -> ``predictions.shadow.jsonl``). The
    newest ``retrain.max_rows``, oldest first; none when nothing of ``versions`` was logged in
    shadow, no line carries ids or none has a label yet.
    """
    try:
        batch = read_current(config.retrain.logs, since=start, until=end, shadow=True)
        predictions = batch.predictions
        if predictions is None:
            raise DataError(f"{batch.source} is not a prediction log")
        mine = predictions["model_version"].astype(str).isin(list(versions)).to_numpy()
        joined = latest_labelled(_rows_of(batch, mine), config)
    except DataError:
        return ShadowRows(pd.DataFrame(), pd.DataFrame())
    joined = joined.tail(config.retrain.max_rows)
    answers = predictions[mine].reset_index(drop=True).loc[joined.index]
    return ShadowRows(
        joined.drop(columns="logged_at").reset_index(drop=True), answers.reset_index(drop=True)
    )


def agreement(task: Task, shadow: pd.Series, champion: pd.Series) -> str:
    """How the shadow's predictions agreed with the champion's on the same requests, in words.

    Classification: the share of the same class; regression: the mean absolute difference.
    """
    both = (shadow.notna() & champion.notna()).to_numpy()
    if not both.any():
        return "no champion prediction to compare with"
    ours, theirs = shadow[both], champion[both]
    if task == "regression":
        difference = (pd.to_numeric(ours) - pd.to_numeric(theirs)).abs().mean()
        return f"mean |difference| {difference:.4g}"
    same = np.mean([left == right for left, right in zip(ours, theirs, strict=True)])
    return f"{100 * same:.1f}% same class"


def write_shadow_set(rows: pd.DataFrame, config: TrainConfig, now: datetime) -> Path:
    """Keep ``rows`` (features and target) under ``retrain.data_dir``, as retrain keeps its own."""
    _, folder = create_version_dir(config.retrain.data_dir, now)
    return write_table(rows, folder / SHADOW_FILE)


def _rows_of(batch: CurrentBatch, keep: npt.NDArray[np.bool_]) -> CurrentBatch:
    """The rows of ``batch`` that ``keep`` marks, renumbered from 0."""
    predictions, timestamps, ids = batch.predictions, batch.timestamps, batch.ids
    return replace(
        batch,
        frame=batch.frame[keep].reset_index(drop=True),
        predictions=None if predictions is None else predictions[keep].reset_index(drop=True),
        timestamps=None if timestamps is None else timestamps[keep].reset_index(drop=True),
        ids=None if ids is None else ids[keep].reset_index(drop=True),
    )


def assemble(config: TrainConfig, now: datetime) -> Assembled:
    """Write the candidate's training and comparison files; refuse a set too small to compare.

    Raises:
        DataError: with no labelled prediction in the window, a comparison set below
            ``promotion.min_rows`` or, for classification, with fewer than two classes.
    """
    settings = config.retrain
    start = now - parse_duration(settings.window)
    labelled, logs = labelled_rows(config, start, now)
    labelled = labelled.tail(settings.max_rows)
    held = max(1, math.ceil(settings.comparison_share * len(labelled)))
    comparison = labelled.tail(held).drop(columns="logged_at")
    fresh = labelled.head(len(labelled) - held).drop(columns="logged_at")
    target = config.data.target
    if len(comparison) < config.promotion.min_rows:
        raise DataError(
            f"comparison set too small: {len(comparison)} row(s) of {len(labelled)} labelled "
            f"in the window, fewer than promotion.min_rows = {config.promotion.min_rows}: "
            "wait for more labels, or widen retrain.window"
        )
    if config.task == "classification" and comparison[target].nunique() < 2:
        only = comparison[target].iloc[:1].tolist()[0]  # a Python value: 1, not np.int64(1)
        raise DataError(
            f"comparison set has one class only ({only!r}): it cannot "
            "tell the models apart; wait for more labels"
        )
    base = read_table(config.data.train_path) if settings.include_base_data else None
    if base is not None:
        base = base.drop(columns=[name for name in config.features.ids if name in base.columns])
        training = pd.concat([base, fresh], ignore_index=True, join="outer")
    else:
        training = fresh
    _, folder = create_version_dir(settings.data_dir, now)  # named after now, like versions
    train_path = write_table(training, folder / TRAIN_FILE)
    comparison_path = write_table(comparison, folder / COMPARISON_FILE)
    store = settings.labels
    snapshot = RetrainSnapshot(
        config=config.model_dump(mode="json"),
        window_start=start,
        window_end=now,
        logs=[str(path) for path in logs],
        labels_store=str(store),
        labels_segments=segment_names(store),
        base_rows=0 if base is None else len(base),
        labelled_rows=len(labelled),
        comparison_rows=len(comparison),
    )
    return Assembled(train_path, comparison_path, snapshot)


def retrain(config: TrainConfig, store: Champions, *, now: datetime | None = None) -> Candidate:
    """Assemble, train a candidate and, when it passes the gate, make it the challenger.

    A candidate whose schema the champion's callers could not use is refused (a
    :class:`DataError` naming each difference) before it is recorded anywhere.
    """
    moment = now or datetime.now(UTC)
    assembled = assemble(config, moment)
    candidate_config = config.model_copy(
        update={
            "data": config.data.model_copy(
                update={"train_path": assembled.train, "test_path": assembled.comparison}
            )
        }
    )
    champion = store.champion()
    accept: Callable[[ModelMetadata], None] | None = None
    if champion is not None:
        with store.open(champion) as bundle:
            reference = bundle.metadata

        def accept(candidate: ModelMetadata) -> None:
            problems = incompatibilities(reference, candidate)
            if problems:
                raise DataError(
                    f"the candidate cannot replace champion {champion}: " + "; ".join(problems)
                )

    # The store says where the challenger goes: a models folder's challenger.json, else the
    # tracking store's run, registered version and @challenger.
    recorder = None if isinstance(store, LocalChampions) else training_recorder(candidate_config)
    record = recorder if recorder is not None else _local_challenger(store)
    result = run_training(
        candidate_config,
        now=moment,
        record=record,
        publish=False,
        retrain=assembled.snapshot,
        accept=accept,
    )
    gate = result.metadata.quality_gate
    version = store.challenger() if gate.passed else None
    return Candidate(version, result.directory, gate.passed, list(gate.failures), assembled)


def _local_challenger(store: Champions) -> Callable[[Path, bool], Callable[[], None] | None]:
    """Without tracking: a candidate that passed becomes ``challenger.json`` when published."""
    if not isinstance(store, LocalChampions):
        raise TypeError(f"{store.where} is not a models folder")

    def record(directory: Path, passed: bool) -> Callable[[], None] | None:
        return (lambda: store.set_challenger(directory.name)) if passed else None

    return record


def reproduce(bundle: ModelBundle) -> dict[str, Any]:
    """Train ``bundle``'s candidate again from its snapshot; compare predictions and scores.

    Raises:
        DataError: when the bundle is not a retrained candidate, or its files are gone or
            changed since.
    """
    metadata = bundle.metadata
    snapshot = metadata.retrain
    if snapshot is None:
        raise DataError(f"version {metadata.version} was not made by retrain: nothing to reproduce")
    paths = {}
    for role in ("train", "test"):
        item = metadata.data[role]
        path = Path(item.path)
        if not path.is_file() or sha256_file(path) != item.sha256:
            raise DataError(
                f"the {role} file of version {metadata.version} ({path}) is gone or changed "
                "since: it cannot be reproduced"
            )
        paths[role] = path
    config = parse_config(snapshot.config, source=f"the snapshot of {metadata.version}")
    frames = {role: read_table(path) for role, path in paths.items()}
    trained = train_model(config, frames["train"], frames["test"])
    features = bundle.schema.prepare(frames["test"])
    again = predict_frame(trained.pipeline, features, metadata.task)
    before = predict_frame(bundle.model, features, metadata.task)
    return {
        "version": metadata.version,
        "identical_predictions": bool(again.equals(before)),
        "metrics": metadata.metrics,
        "reproduced_metrics": trained.metrics,
        "train": str(paths["train"]),
        "comparison": str(paths["test"]),
    }
