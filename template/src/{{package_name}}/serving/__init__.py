"""Serve predictions from a trained model."""

from .service import PredictionService

__all__ = ["PredictionService"]
