"""Demo data that ships inside scikit-learn, so a new project trains offline."""

from dataclasses import dataclass

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

from .tasks import Task

TARGET_COLUMN = "target"


@dataclass(frozen=True)
class Dataset:
    """Features and target of one data set."""

    features: pd.DataFrame
    target: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """Features with the target as the last column, as a data file holds them."""
        frame = self.features.copy()
        frame[TARGET_COLUMN] = self.target.to_numpy()
        return frame


def load_demo_dataset(task: Task) -> Dataset:
    """Load breast cancer (classification) or diabetes (regression) from scikit-learn."""
    loader = load_breast_cancer if task == "classification" else load_diabetes
    bunch = loader(as_frame=True)
    features: pd.DataFrame = bunch.data
    target: pd.Series = bunch.target.rename(TARGET_COLUMN)
    return Dataset(features=features, target=target)


def split_dataset(
    dataset: Dataset, *, test_size: float, seed: int, stratify: bool
) -> tuple[Dataset, Dataset]:
    """Split into train and test sets; stratify on the target for classification."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive), got {test_size}")
    X_train, X_test, y_train, y_test = train_test_split(
        dataset.features,
        dataset.target,
        test_size=test_size,
        random_state=seed,
        stratify=dataset.target if stratify else None,
    )
    return Dataset(X_train, y_train), Dataset(X_test, y_test)
