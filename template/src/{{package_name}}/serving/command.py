"""The ``serve`` command: run the HTTP prediction API with uvicorn."""

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import uvicorn

from .model_server import read_metadata
from .settings import ENV_PREFIX, ServingSettings

#: What uvicorn imports in every worker process; settings reach it through the environment.
APP_FACTORY = f"{__package__}.app:create_app"


def add_serve_command(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``serve`` and its options with ``add_parser`` (the subparsers' method)."""
    serve = add_parser(
        "serve",
        help="serve the latest model over HTTP (settings: MODEL_SERVER_* environment variables)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.add_argument(
        "--model-dir",
        type=Path,
        help="model version directory or models root (default: MODEL_SERVER_MODEL_DIR or models)",
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every request (metrics count them anyway)"
    )


def run_serve(args: argparse.Namespace) -> int:
    """Check the model can be found, then serve until interrupted; 0 on a clean shutdown.

    Raises:
        ArtifactError: when there is no model where the settings point.
        ValueError: for a port or worker count out of range.
    """
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.model_dir is not None:
        os.environ[f"{ENV_PREFIX}MODEL_DIR"] = str(args.model_dir)
    read_metadata(ServingSettings().model_dir)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        log_level="info",
        ws="none",
    )
    return 0
