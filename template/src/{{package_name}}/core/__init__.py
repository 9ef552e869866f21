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
)
from .metadata import ModelMetadata
from .profile import CategoricalProfile, NumericProfile, ReferenceProfile
from .schema import ColumnSchema, FeatureSchema, SchemaError, Violation, infer_schema
from .tabular import DataError, read_table, write_table, write_text_atomically
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
    "TASKS",
    "ArtifactError",
    "CategoricalProfile",
    "ColumnSchema",
    "ConfigError",
    "DataError",
    "EvaluationResult",
    "FeatureSchema",
    "ModelBundle",
    "ModelMetadata",
    "NumericProfile",
    "ReferenceProfile",
    "SchemaError",
    "Task",
    "TrainConfig",
    "TrainingResult",
    "Violation",
    "check_versions",
    "infer_schema",
    "load_bundle",
    "load_config",
    "load_model",
    "parse_config",
    "parse_yaml",
    "read_table",
    "run_evaluation",
    "run_prediction",
    "run_training",
    "save_bundle",
    "save_model",
    "write_data",
    "write_table",
    "write_text_atomically",
]
