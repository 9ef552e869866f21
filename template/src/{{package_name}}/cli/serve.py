"""The ``serve`` command: serve a model over HTTP until interrupted.

The options are described here without importing the server (FastAPI, uvicorn); the handler
reads the settings and starts it. Settings other than these options come from the
``MODEL_SERVER_*`` environment variables (see ``serving.settings``).
"""

from __future__ import annotations

import argparse

from ..core.models import model_forms


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve`` and its handler."""
    serve = commands.add_parser(
        "serve",
        help="serve the latest model over HTTP (settings: MODEL_SERVER_* environment variables)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its own copy of the model (default: 1; at most "
        "twice the CPUs this process may use)",
    )
    serve.add_argument(
        "--model",
        "--model-dir",
        dest="model",
        metavar="MODEL",
        help=f"{model_forms()} (default: the MODEL_SERVER_* model setting, else models)",
    )
    serve.add_argument(
        "--shadow-model",
        metavar="MODEL",
        help=f"a second model ({model_forms()}) that also scores every request, off the "
        "answer path, for comparison only (default: MODEL_SERVER_SHADOW_MODEL, else none)",
    )
    serve.add_argument(
        "--shutdown-timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="on SIGTERM, stop accepting and let in-flight requests finish for at most this "
        "long (default: 20, within Kubernetes' 30 s grace period)",
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every request (metrics count them anyway)"
    )
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """``serve``: check the model can be found, then serve; 0 on a clean shutdown.

    Raises:
        ArtifactError: when there is no model where the settings point, or a registered
            version's files do not match their registered digests.
        TrackingError: when the registry cannot be reached or holds no such version.
        ValueError: for a port, worker count or shutdown timeout out of range, an invalid
            ``MODEL_SERVER_*`` setting (e.g. a short API key) or an unusable prediction log.
    """
    from ..serving.app import serve
    from ..serving.settings import load_settings

    return serve(
        load_settings(args.model, args.shadow_model),
        host=args.host,
        port=args.port,
        workers=args.workers,
        shutdown_timeout=args.shutdown_timeout,
        access_log=args.access_log,
    )
