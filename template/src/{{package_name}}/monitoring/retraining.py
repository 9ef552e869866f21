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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.bundle import (
    ModelBundle,
    ModelMetadata,
    RetrainSnapshot,
    create_version_dir,
    sha256_file,
)
from ..core.config import TrainConfig, parse_config, parse_duration
from ..core.data import read_table, write_table
from ..core.models import training_recorder
from ..core.pipeline import predict_frame
from ..core.promotion import Champions, LocalChampions, incompatibilities
from ..core.schema import DataError
from ..core.training import train_model
from ..core.workflow import run_training
from .inputs import log_files, read_current
from .labels import read_labels, segment_names

logger = logging.getLogger(__name__)

TRAIN_FILE = "train.parquet"
COMPARISON_FILE = "comparison.parquet"


@dataclass(frozen=True)
class Assembled:
    """The training and comparison files of one candidate, and what they came from."""

    train: Path
    comparison: Path
    snapshot: RetrainSnapshot


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
    logs, store = config.retrain.logs, config.retrain.labels
    try:
        batch = read_current(logs, since=start, until=end)
    except DataError as error:
        raise DataError(f"nothing to retrain on: {error}") from None
    if batch.ids is None or batch.timestamps is None or not batch.ids.notna().any():
        raise DataError(f"nothing to retrain on: no prediction in {logs} carries ids")
    rows = batch.frame.assign(id_key=batch.ids, logged_at=batch.timestamps)
    rows = rows[rows["id_key"].notna()].sort_values("logged_at", kind="stable")
    latest = rows.drop_duplicates("id_key", keep="last")
    joined = latest.merge(read_labels(store), on="id_key", how="inner")
    if joined.empty:
        raise DataError(
            f"nothing to retrain on: none of the {len(latest)} id(s) predicted between {start} "
            f"and {end} has a label in {store}"
        )
    target = config.data.target
    joined[target] = _target_values(joined["label"], config)
    columns = [name for name in batch.frame.columns if name not in {target, "id_key"}]
    ordered = joined.sort_values("logged_at", kind="stable")
    sources = log_files(logs) if logs.is_dir() else [logs]
    return ordered[[*columns, target, "logged_at"]].reset_index(drop=True), sources


def _target_values(labels: pd.Series, config: TrainConfig) -> pd.Series:
    """Labels as target values: numbers for regression; integer classes when they all are."""
    numbers = pd.to_numeric(labels, errors="coerce")
    if config.task == "regression":
        return numbers.astype("float64")
    if numbers.notna().all() and bool(np.all(np.mod(numbers, 1) == 0)):
        return numbers.astype("int64")
    return labels.astype(str)


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
