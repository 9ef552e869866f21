"""Serve predictions from a trained model: the HTTP API and its building blocks."""

from .app import create_app
from .command import add_serve_command, run_serve
from .settings import ENV_PREFIX, ServingSettings

__all__ = ["ENV_PREFIX", "ServingSettings", "add_serve_command", "create_app", "run_serve"]
