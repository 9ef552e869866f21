"""The scikit-learn pipeline: numeric and categorical branches, then the estimator."""

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .schema import FeatureSchema


def build_pipeline(schema: FeatureSchema, estimator: BaseEstimator) -> Pipeline:
    """An unfitted pipeline for ``schema``'s columns ending in ``estimator``.

    Numbers are median-imputed and standardised; categories are imputed with the most
    frequent value and one-hot encoded (dense, so every estimator accepts them; unseen
    categories encode as all zeros).
    """
    branches = []
    if schema.numeric:
        numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        branches.append(("numeric", numeric, schema.numeric))
    if schema.categorical:
        categorical = make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        branches.append(("categorical", categorical, schema.categorical))
    preprocess = ColumnTransformer(branches, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])
