"""Data, training, evaluation and model artifacts."""

from .artifacts import ArtifactError, load_model, save_model
from .data import Dataset, load_demo_dataset, split_dataset
from .evaluation import evaluate
from .tasks import DEFAULT_TASK, TASKS, Task
from .training import build_pipeline, train

__all__ = [
    "DEFAULT_TASK",
    "TASKS",
    "ArtifactError",
    "Dataset",
    "Task",
    "build_pipeline",
    "evaluate",
    "load_demo_dataset",
    "load_model",
    "save_model",
    "split_dataset",
    "train",
]
