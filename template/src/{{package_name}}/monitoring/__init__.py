"""Detect drift between reference and current data."""

from .drift import FeatureDrift, feature_drift

__all__ = ["FeatureDrift", "feature_drift"]
