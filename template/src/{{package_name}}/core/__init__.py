"""Training pipeline: config, data, feature schema, fitting, quality gate and model bundles.

Serving and monitoring need only :func:`load_bundle` (model, metadata, schema and
reference profile of a version directory or of a models root's latest model) and
:class:`FeatureSchema` / :class:`SchemaError` to check inputs.
"""

from .artifacts import ArtifactError, load_model, save_model
from .bundle import ModelBundle, check_versions, load_bundle, save_bundle
from .config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    TrainConfig,
    load_config,
    parse_config,
    parse_yaml,
    read_yaml_mapping,
)
from .demo_data import load_demo_frame, write_demo_data
from .estimators import build_estimator
from .evaluation import score_model
from .metadata import ModelMetadata
from .pipeline import build_pipeline
from .prediction import PREDICTION_COLUMN, PROBABILITY_PREFIX, predict_frame
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
from .registry import METADATA_FILE, resolve_model_dir
from .schema import ColumnSchema, FeatureSchema, SchemaError, Violation, infer_schema
from .tabular import SUFFIXES, DataError, read_table, write_table, write_text_atomically
from .tasks import DEFAULT_TASK, TASKS, Task
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
    "DEFAULT_TASK",
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
