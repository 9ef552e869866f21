"""What several commands share: exit codes, the config options and overrides, JSON output.

Nothing here imports more than the standard library and core's light modules at import time,
so ``--help`` stays fast; the config is read (with pydantic and YAML) only when a command runs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.config import TrainConfig

#: Exit codes: success; failed quality gate or drift alert; bad input; a bug or broken environment
#: (70 is EX_SOFTWARE of sysexits.h), so a monitoring job never reads a crash as an alert.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 70
#: A temporary failure (the tracking server did not answer, its store was locked): try again.
EXIT_TEMPORARY = 75  # EX_TEMPFAIL of sysexits.h

#: Named options and the config keys they override.
OVERRIDES: Mapping[str, str] = {
    "train_path": "data.train_path",
    "test_path": "data.test_path",
    "seed": "seed",
    "estimator": "estimator.name",
    "models_dir": "output.models_dir",
}


def config_options() -> argparse.ArgumentParser:
    """The parent parser of commands that read the training config: ``--config`` and ``--set``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", type=Path, help="training config (YAML)")
    options.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set split.strategy=cv (repeatable)",
    )
    return options


def add_version_mismatch_option(parser: argparse.ArgumentParser) -> None:
    """The ``--allow-version-mismatch`` option of commands that load a model."""
    parser.add_argument(
        "--allow-version-mismatch",
        action="store_true",
        help="load a model trained with another scikit-learn/skops major.minor version "
        "(it may predict wrongly)",
    )


def load_train_config(args: argparse.Namespace) -> TrainConfig:
    """The config file with ``--set`` assignments and named options applied.

    Raises:
        ValueError: for a malformed ``--set``, or a config file that is missing or invalid.
    """
    from ..core.config import DEFAULT_CONFIG_PATH, load_config, parse_yaml

    overrides: dict[str, Any] = {}
    for assignment in args.assignments:
        key, separator, value = assignment.partition("=")
        if not separator or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {assignment!r}")
        overrides[key] = parse_yaml(value, source=f"--set {key}")
    for option, key in OVERRIDES.items():
        value = getattr(args, option, None)
        if value is not None:
            overrides[key] = str(value) if isinstance(value, Path) else value
    return load_config(args.config or DEFAULT_CONFIG_PATH, overrides)


def print_json(value: object) -> None:
    """Print ``value`` as indented JSON: what a command reports on standard output."""
    print(json.dumps(value, indent=2))
