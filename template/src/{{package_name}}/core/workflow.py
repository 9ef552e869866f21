"""The steps the CLI runs: write demo data, train (with the model card), evaluate, predict."""

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .bundle import (
    LATEST_POINTER,
    DataFingerprint,
    ModelBundle,
    ModelMetadata,
    RetrainSnapshot,
    create_version_dir,
    git_commit,
    load_bundle,
    package_versions,
    publish_latest,
    save_bundle,
    sha256_file,
)
from .card import make_card
from .config import ConfigError, TrainConfig
from .data import file_lock, read_table, write_demo_data, write_table, write_text_atomically
from .schema import DataError, SchemaError, require_columns
from .training import GateResult, TrainedModel, check_quality_gate, score_model, train_model

logger = logging.getLogger(__name__)

#: Lock file in the models root that publishing processes take in turn.
PUBLISH_LOCK = ".publish.lock"
#: The image a model was trained in, recorded when there is no git commit (set by deploy/k8s).
IMAGE_VARIABLE = "MODEL_IMAGE"
#: Records a saved version elsewhere, given its folder and whether it passed the gate, and
#: returns the step that makes it current there; both run before anything is published.
Recorder = Callable[[Path, bool], Callable[[], None] | None]


@dataclass(frozen=True)
class TrainingResult:
    """Where a trained model was saved, what it scored, and whether it is now the latest."""

    directory: Path
    metadata: ModelMetadata
    published: bool


@dataclass(frozen=True)
class EvaluationResult:
    """Scores of a saved model on test data and the quality gate's verdict."""

    version: str
    metrics: dict[str, float]
    quality_gate: GateResult


def write_data(config: TrainConfig, *, force: bool = False) -> tuple[Path, Path]:
    """Write the task's demo data to the configured train and test paths.

    Files holding anything else are left alone (a :class:`DataError`) unless ``force``.
    """
    if config.data.test_path is None:
        raise ConfigError("data.test_path is not set: the demo data needs a test file")
    paths = write_demo_data(
        config.task,
        train_path=config.data.train_path,
        test_path=config.data.test_path,
        target=config.data.target,
        test_size=config.split.test_size,
        seed=config.seed,
        force=force,
        ids=config.features.ids,
    )
    logger.info("wrote %s demo data to %s and %s", config.task, *paths)
    return paths


def run_training(
    config: TrainConfig,
    *,
    now: datetime | None = None,
    record: Recorder | None = None,
    publish: bool = True,
    retrain: RetrainSnapshot | None = None,
    accept: Callable[[ModelMetadata], None] | None = None,
) -> TrainingResult:
    """Train, save a new version under ``output.models_dir`` and publish it if the gate passes.

    Publishing comes last: the bundle is complete and ``record`` (e.g. a tracked run and a
    registered version) has returned before ``latest.json`` moves, and the step ``record``
    returns (e.g. a registry alias) runs right after it, both under the models root's
    publishing lock. On any failure the pointer is restored and the new version folder
    removed, so what is served does not change. A model that fails the quality gate is kept
    for inspection (and recorded) but not published.

    ``retrain`` makes a candidate: its snapshot is saved with it, ``accept`` may refuse it
    (raising) before it is recorded, and without ``publish`` ``latest.json`` stays (the step
    ``record`` returns, e.g. ``@challenger``, still runs).
    """
    data = {"train": config.data.train_path}
    if config.split.strategy == "holdout" and config.data.test_path is not None:
        data["test"] = config.data.test_path
    frames = {role: read_table(path) for role, path in data.items()}
    trained = train_model(config, frames["train"], frames.get("test"))
    gate = check_quality_gate(trained.metrics, config.quality_gate)
    fingerprints = {
        role: DataFingerprint(path=str(path), sha256=sha256_file(path), rows=len(frames[role]))
        for role, path in data.items()
    }
    created_at = now or datetime.now(UTC)
    version, directory = create_version_dir(config.output.models_dir, created_at)
    metadata = describe_model(config, trained, gate, fingerprints, version, created_at)
    metadata = metadata.model_copy(update={"retrain": retrain})
    try:
        card = make_card(metadata, trained.profile, trained.pipeline, config.card)
        saved = save_bundle(directory, trained.pipeline, metadata, trained.profile, card)
        if accept is not None and gate.passed:
            accept(saved)
        make_current = record(directory, gate.passed) if record is not None else None
        if gate.passed:
            _publish(config.output.models_dir, version if publish else None, make_current)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    if gate.passed:
        logger.info("model %s %s", version, "published as the latest" if publish else "saved")
    else:
        logger.error(
            "quality gate failed: %s; model %s kept in %s but not published",
            "; ".join(gate.failures),
            version,
            directory,
        )
    return TrainingResult(directory=directory, metadata=saved, published=gate.passed)


def _publish(
    models_dir: Path, version: str | None, make_current: Callable[[], None] | None
) -> None:
    """Point ``latest.json`` at ``version`` (if any), then run ``make_current``; undo on failure."""
    pointer = models_dir / LATEST_POINTER
    with file_lock(models_dir / PUBLISH_LOCK):  # one process publishes at a time on this host
        previous = pointer.read_text(encoding="utf-8") if pointer.is_file() else None
        if version is not None:
            publish_latest(models_dir, version)
        try:
            if make_current is not None:
                make_current()
        except BaseException:
            if previous is None:
                pointer.unlink(missing_ok=True)
            else:
                write_text_atomically(pointer, previous)
            raise


def run_evaluation(
    config: TrainConfig, model_path: Path, *, allow_version_mismatch: bool = False
) -> EvaluationResult:
    """Score the model at ``model_path`` on ``data.test_path`` and apply the quality gate."""
    bundle = load_bundle(model_path, allow_version_mismatch=allow_version_mismatch)
    if bundle.metadata.task != config.task:
        raise ConfigError(
            f"the model at {bundle.directory} is a {bundle.metadata.task} model "
            f"but the config's task is {config.task}"
        )
    if config.data.test_path is None:
        raise ConfigError("data.test_path is not set: nothing to evaluate on")
    frame = read_table(config.data.test_path)
    target = bundle.metadata.target
    require_columns(frame, [target], source=str(config.data.test_path))
    metrics = score_model(
        bundle.model, bundle.schema.prepare(frame), frame[target], bundle.metadata.task
    )
    gate = check_quality_gate(metrics, config.quality_gate)
    return EvaluationResult(bundle.metadata.version, metrics, gate)


def run_prediction(
    model_path: Path, input_path: Path, output_path: Path, *, allow_version_mismatch: bool = False
) -> int:
    """Write ``input_path``'s rows plus prediction columns to ``output_path``; return the count."""
    bundle: ModelBundle = load_bundle(model_path, allow_version_mismatch=allow_version_mismatch)
    frame = read_table(input_path)
    bad_ids = bundle.schema.id_violations(frame)
    if bad_ids:  # ids are how labels find these predictions later
        raise SchemaError(bad_ids)
    predictions = bundle.predict(frame)
    clashes = [name for name in predictions.columns if name in frame.columns]
    if clashes:
        raise DataError(f"{input_path} already has column(s) {clashes}; rename them first")
    write_table(pd.concat([frame, predictions], axis=1), output_path)
    logger.info(
        "wrote %d predictions of model %s to %s", len(frame), bundle.metadata.version, output_path
    )
    return len(frame)


def describe_model(
    config: TrainConfig,
    trained: TrainedModel,
    gate: GateResult,
    data: dict[str, DataFingerprint],
    version: str,
    created_at: datetime,
) -> ModelMetadata:
    """The metadata saved with a trained model: what it is, how it scored, what it saw."""
    estimator = trained.pipeline.steps[-1][1]
    return ModelMetadata(
        name=config.output.model_name,
        version=version,
        created_at=created_at,
        git_commit=git_commit(Path.cwd()),
        image=os.environ.get(IMAGE_VARIABLE) or None,
        task=config.task,
        estimator=config.estimator_name,
        params={
            key: value
            for key, value in estimator.get_params(deep=False).items()
            if value is None or isinstance(value, bool | int | float | str)
        },
        seed=config.seed,
        evaluation=trained.evaluation,
        metrics=trained.metrics,
        quality_gate=gate,
        target=config.data.target,
        classes=np.asarray(getattr(estimator, "classes_", [])).tolist(),
        data=data,
        package_versions=package_versions(),
        feature_schema=trained.schema,
        # Without ``tracking``: its URI may hold credentials, and the card shows this config.
        training_config=config.model_dump(mode="json", exclude={"tracking"}),
        evaluation_details=trained.details,
    )
