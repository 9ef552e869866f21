"""Versioned model directories under a models root, and the pointer to the latest good one.

Layout::

    models/
        latest.json              {"version": "20250101T120000Z"}
        20250101T120000Z/        model.skops, metadata.json, profile.json

The pointer is a small JSON file replaced atomically, so readers never see half of it.
"""

import json
from datetime import datetime
from pathlib import Path

from .artifacts import ArtifactError
from .tabular import write_text_atomically

LATEST_POINTER = "latest.json"
METADATA_FILE = "metadata.json"


def create_version_dir(models_dir: Path, created_at: datetime) -> tuple[str, Path]:
    """Create a new, empty version directory named after ``created_at`` (UTC)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    stem = created_at.strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1, 1000):
        version = stem if attempt == 1 else f"{stem}-{attempt}"
        directory = models_dir / version
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        return version, directory
    raise ArtifactError(f"too many model versions named {stem} in {models_dir}")


def publish_latest(models_dir: Path, version: str) -> Path:
    """Point ``latest.json`` at ``version`` (which must exist), atomically."""
    if not (models_dir / version / METADATA_FILE).is_file():
        raise ArtifactError(f"cannot publish {version}: {models_dir / version} holds no model")
    return write_text_atomically(
        models_dir / LATEST_POINTER, json.dumps({"version": version}) + "\n"
    )


def latest_version(models_dir: Path) -> str | None:
    """Version the pointer names, or None when nothing was published yet."""
    pointer = models_dir / LATEST_POINTER
    if not pointer.is_file():
        return None
    try:
        version = json.loads(pointer.read_text(encoding="utf-8"))["version"]
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise ArtifactError(f"{pointer} is malformed: {error!r}") from error
    if not isinstance(version, str) or Path(version).name != version or version in {"", ".", ".."}:
        raise ArtifactError(f"{pointer} names an invalid version {version!r}")
    return version


def resolve_model_dir(path: Path) -> Path:
    """The version directory ``path`` means: itself, or the latest one under a models root."""
    if (path / METADATA_FILE).is_file():
        return path
    version = latest_version(path)
    if version is None:
        raise ArtifactError(
            f"no model at {path}: expected a model directory or a models root with "
            f"{LATEST_POINTER} (run `train` first)"
        )
    return path / version
