"""Serve predictions from a trained model: the HTTP API and its ``serve`` command."""

from .app import add_serve_command, create_app, run_serve
from .settings import ServingSettings

__all__ = ["ServingSettings", "add_serve_command", "create_app", "run_serve"]
