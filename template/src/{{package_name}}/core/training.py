"""Build and fit the scikit-learn pipeline."""

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .data import Dataset
from .tasks import Task


def build_pipeline(
    task: Task, *, numeric: list[str], categorical: list[str], seed: int
) -> Pipeline:
    """Return an unfitted pipeline: impute and scale numbers, one-hot categories, then estimate."""
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    estimator = (
        LogisticRegression(max_iter=1000, random_state=seed)
        if task == "classification"
        else Ridge(alpha=1.0, random_state=seed)
    )
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])


def train(dataset: Dataset, task: Task, *, seed: int) -> Pipeline:
    """Fit a fresh pipeline on ``dataset``."""
    if dataset.features.empty:
        raise ValueError("cannot train on an empty data set")
    if task == "classification" and pd.Series(dataset.target).nunique() < 2:
        raise ValueError("classification needs at least two classes in the target")
    numeric = dataset.features.select_dtypes(include="number").columns.tolist()
    categorical = [column for column in dataset.features.columns if column not in numeric]
    pipeline = build_pipeline(task, numeric=numeric, categorical=categorical, seed=seed)
    return pipeline.fit(dataset.features, dataset.target)
