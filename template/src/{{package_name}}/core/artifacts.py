"""Save and load models in skops' secure format: loading never runs arbitrary code.

A model file is also checked against the SHA-256 digest recorded when it was saved, so
a truncated or altered file is refused before skops even parses it.
"""

from pathlib import Path

from sklearn.pipeline import Pipeline
from skops.io import dump, get_untrusted_types, load

from .hashing import sha256_file

#: scikit-learn and numpy types our pipelines hold beyond skops' built-in safe set.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)


class ArtifactError(RuntimeError):
    """A model artifact is missing, corrupt, altered or holds types that are not trusted."""


def save_model(model: Pipeline, path: Path) -> str:
    """Write ``model`` to ``path`` (``.skops``) and return the file's SHA-256 digest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dump(model, path)
    return sha256_file(path)


def load_model(path: Path, *, expected_sha256: str | None = None) -> Pipeline:
    """Load a pipeline saved by :func:`save_model`, refusing altered, untrusted or corrupt files."""
    if not path.is_file():
        raise ArtifactError(f"model file not found: {path}")
    if expected_sha256 is not None and sha256_file(path) != expected_sha256:
        raise ArtifactError(
            f"model file {path} does not match the SHA-256 recorded at training time; "
            "it was altered or truncated: refusing to load it"
        )
    try:
        found = set(get_untrusted_types(file=path))
    except Exception as error:  # skops raises zipfile, JSON and key errors on corrupt files
        raise ArtifactError(f"model file {path} is corrupt or not a skops file: {error}") from error
    untrusted = found - TRUSTED_TYPES
    if untrusted:
        raise ArtifactError(
            f"model file {path} contains untrusted types {sorted(untrusted)}; refusing to load it"
        )
    try:
        model = load(path, trusted=sorted(found))
    except Exception as error:  # a file that passed the type scan can still be malformed
        raise ArtifactError(f"model file {path} cannot be loaded: {error}") from error
    if not isinstance(model, Pipeline):
        raise ArtifactError(f"model file {path} holds a {type(model).__name__}, not a Pipeline")
    return model
