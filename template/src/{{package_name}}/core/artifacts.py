"""Save and load models in skops' secure format: loading never runs arbitrary code."""

from pathlib import Path

from sklearn.pipeline import Pipeline
from skops.io import dump, get_untrusted_types, load

#: Types a saved pipeline may contain beyond skops' built-in safe set.
TRUSTED_TYPES: frozenset[str] = frozenset({"numpy.dtype"})


class ArtifactError(RuntimeError):
    """A model file is missing, corrupt or contains types that are not trusted."""


def save_model(model: Pipeline, path: Path) -> Path:
    """Write ``model`` to ``path`` (``.skops``), creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dump(model, path)
    return path


def load_model(path: Path) -> Pipeline:
    """Load a pipeline saved by :func:`save_model`, refusing untrusted or corrupt files."""
    if not path.is_file():
        raise ArtifactError(f"model file not found: {path}")
    try:
        untrusted = set(get_untrusted_types(file=path)) - TRUSTED_TYPES
    except Exception as error:  # skops raises zipfile, JSON and key errors on corrupt files
        raise ArtifactError(f"model file {path} is corrupt or not a skops file: {error}") from error
    if untrusted:
        raise ArtifactError(
            f"model file {path} contains untrusted types {sorted(untrusted)}; refusing to load it"
        )
    model = load(path, trusted=sorted(get_untrusted_types(file=path)))
    if not isinstance(model, Pipeline):
        raise ArtifactError(f"model file {path} holds a {type(model).__name__}, not a Pipeline")
    return model
