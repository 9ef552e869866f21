"""``metadata.json``: what a model is, how it was made and how well it scored."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from .quality_gate import GateResult
from .schema import FeatureSchema
from .tasks import Task

METADATA_FORMAT = 1


class DataFingerprint(BaseModel):
    """One data file used in training, identified by its digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    sha256: str
    rows: int


class ModelMetadata(BaseModel):
    """Everything recorded next to a saved model."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    format_version: int = METADATA_FORMAT
    name: str
    version: str
    created_at: datetime
    git_commit: str | None
    task: Task
    estimator: str
    params: dict[str, Any]
    seed: int
    evaluation: str
    metrics: dict[str, float]
    quality_gate: GateResult
    target: str
    classes: list[int | float | str] = []
    data: dict[str, DataFingerprint]
    package_versions: dict[str, str]
    files: dict[str, str] = {}
    feature_schema: FeatureSchema
