"""The ``serve`` command: run the HTTP prediction API with uvicorn."""

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import uvicorn

from .app import create_app
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
        ValueError: for a port or worker count out of range, an invalid ``MODEL_SERVER_*``
            setting (e.g. a short API key) or a prediction log that cannot be written.
    """
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.model_dir is not None:
        os.environ[f"{ENV_PREFIX}MODEL_DIR"] = str(args.model_dir)
    settings = ServingSettings()
    app = create_app(settings)  # refuses bad settings, a missing model or an unusable log now
    uvicorn.run(
        app if args.workers == 1 else APP_FACTORY,  # more workers: each builds its own app
        factory=args.workers > 1,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        log_level="info",
        ws="none",
        # h11 caps the request line plus headers (httptools accepts any size).
        http="h11",
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    return 0
