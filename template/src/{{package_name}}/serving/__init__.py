"""Serve predictions from a trained model: the HTTP API and its building blocks."""

from .app import create_app
from .settings import ENV_PREFIX, ServingSettings

__all__ = ["ENV_PREFIX", "ServingSettings", "create_app"]
