"""Training pipeline: config, data, feature schema, fitting, quality gate and model bundles.

Modules, bottom up: ``config`` (what a run may ask for, the YAML loader), ``data`` (data
files and demo data), ``schema`` (feature schema), ``pipeline`` (estimator, pipeline and
prediction columns), ``profile`` (reference profile, latest drift scores), ``training``
(fit, score, quality gate), ``bundle`` (save, verify and load model versions) and
``workflow`` (the steps the CLI runs).

Serving and monitoring need only :func:`load_bundle` (model, metadata, schema and
reference profile of a version directory or of a models root's latest model) and
:class:`FeatureSchema` / :class:`SchemaError` to check inputs.
"""

from .bundle import (
    METADATA_FILE,
    ArtifactError,
    ModelBundle,
    ModelMetadata,
    check_versions,
    load_bundle,
    load_model,
    resolve_model_dir,
    save_bundle,
    save_model,
)
from .config import (
    DEFAULT_CONFIG_PATH,
    TASKS,
    ConfigError,
    Task,
    TrainConfig,
    config_problems,
    load_config,
    parse_config,
    parse_yaml,
    read_yaml_mapping,
)
from .data import (
    SUFFIXES,
    DataError,
    load_demo_frame,
    read_table,
    write_demo_data,
    write_table,
    write_text_atomically,
)
from .pipeline import (
    PREDICTION_COLUMN,
    PROBABILITY_PREFIX,
    build_estimator,
    build_pipeline,
    predict_frame,
    predict_in_range,
)
from .profile import (
    DRIFT_STATUSES,
    REPORT_JSON,
    CategoricalProfile,
    DriftScore,
    DriftStatus,
    LatestScores,
    NumericProfile,
    ReferenceProfile,
    latest_scores,
    numeric_profile,
    profile_column,
)
from .schema import ColumnSchema, FeatureSchema, SchemaError, Violation, infer_schema
from .training import score_model
from .workflow import (
    EvaluationResult,
    TrainingResult,
    run_evaluation,
    run_prediction,
    run_training,
    write_data,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DRIFT_STATUSES",
    "METADATA_FILE",
    "PREDICTION_COLUMN",
    "PROBABILITY_PREFIX",
    "REPORT_JSON",
    "SUFFIXES",
    "TASKS",
    "ArtifactError",
    "CategoricalProfile",
    "ColumnSchema",
    "ConfigError",
    "DataError",
    "DriftScore",
    "DriftStatus",
    "EvaluationResult",
    "FeatureSchema",
    "LatestScores",
    "ModelBundle",
    "ModelMetadata",
    "NumericProfile",
    "ReferenceProfile",
    "SchemaError",
    "Task",
    "TrainConfig",
    "TrainingResult",
    "Violation",
    "build_estimator",
    "build_pipeline",
    "check_versions",
    "config_problems",
    "infer_schema",
    "latest_scores",
    "load_bundle",
    "load_config",
    "load_demo_frame",
    "load_model",
    "numeric_profile",
    "parse_config",
    "parse_yaml",
    "predict_frame",
    "predict_in_range",
    "profile_column",
    "read_table",
    "read_yaml_mapping",
    "resolve_model_dir",
    "run_evaluation",
    "run_prediction",
    "run_training",
    "save_bundle",
    "save_model",
    "score_model",
    "write_data",
    "write_demo_data",
    "write_table",
    "write_text_atomically",
]
