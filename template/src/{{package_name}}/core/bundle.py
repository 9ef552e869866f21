"""Model bundles: save, hash, verify and load a model with its metadata, schema and profile.

:func:`load_bundle` is the one entry point serving and monitoring use to get a model.
Versions live under a models root, with a pointer to the latest good one::

    models/
        latest.json              {"version": "20250101T120000Z"}
        20250101T120000Z/        model.skops, metadata.json, profile.json,
                                 card.md, card.html, card.svg (the model card, see ``card``)

Models are saved in skops' secure format, so loading never runs arbitrary code, and every
file is checked against the SHA-256 digest recorded when it was saved, so a truncated or
altered file is refused before it is parsed. The pointer is replaced atomically.
"""

import hashlib
import json
import logging
import shutil
import subprocess  # nosec B404
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError
from sklearn.pipeline import Pipeline

from .data import write_text_atomically
from .estimators import trusted_types
from .metrics import Task
from .pipeline import predict_in_range
from .profile import ReferenceProfile
from .schema import QUOTED_ROWS, FeatureSchema, SchemaError, Violation
from .training import EvaluationDetails, GateResult

logger = logging.getLogger(__name__)

MODEL_FILE = "model.skops"
PROFILE_FILE = "profile.json"
METADATA_FILE = "metadata.json"
#: The model card (see ``card``): Markdown, the HTML made from it, and its figure.
CARD_MARKDOWN = "card.md"
CARD_HTML = "card.html"
CARD_FIGURE = "card.svg"
CARD_FILES = (CARD_MARKDOWN, CARD_HTML, CARD_FIGURE)
LATEST_POINTER = "latest.json"
METADATA_FORMAT = 1
#: Distributions whose versions decide how a saved model behaves.
TRACKED_PACKAGES = ("numpy", "pandas", "pyarrow", "pydantic", "scikit-learn", "scipy", "skops")
#: Distributions whose major.minor version must be the same at training and loading time.
RUNTIME_PACKAGES = ("scikit-learn", "skops")


class ArtifactError(RuntimeError):
    """A model artifact is missing, corrupt, altered or holds types that are not trusted."""


class DataFingerprint(BaseModel):
    """One data file used in training, identified by its digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    sha256: str
    rows: int


class RetrainSnapshot(BaseModel):
    """What ``retrain`` assembled a candidate from, so that it can be trained again exactly.

    The assembled files themselves are the ``train`` and ``test`` (comparison) entries of the
    metadata's ``data``, with their digests.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The training config as resolved for the run (file plus overrides).
    config: dict[str, Any]
    window_start: datetime
    window_end: datetime
    #: The prediction logs read, and the labels store with its segments (its position).
    logs: list[str]
    labels_store: str
    labels_segments: list[str]
    base_rows: int
    labelled_rows: int
    comparison_rows: int


class ModelMetadata(BaseModel):
    """Everything recorded next to a saved model."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    format_version: int = METADATA_FORMAT
    name: str
    version: str
    created_at: datetime
    git_commit: str | None
    task: Task
    estimator: str
    params: dict[str, Any]
    seed: int
    evaluation: str
    metrics: dict[str, float]
    quality_gate: GateResult
    target: str
    classes: list[int | float | str] = []
    data: dict[str, DataFingerprint]
    package_versions: dict[str, str]
    files: dict[str, str] = {}
    feature_schema: FeatureSchema
    #: Where the code came from when there is no git commit: the image (``MODEL_IMAGE``).
    image: str | None = None
    #: Set for a candidate that ``retrain`` made.
    retrain: RetrainSnapshot | None = None
    #: The training config as resolved for the run (none before 0.17.0).
    training_config: dict[str, Any] | None = None
    #: The scoring rows' confusion matrix or residuals, and slices (none before 0.17.0).
    evaluation_details: EvaluationDetails | None = None


@dataclass(frozen=True)
class ModelCard:
    """A version's model card as verified when its bundle was loaded."""

    markdown: str
    html: str


@dataclass(frozen=True)
class ModelBundle:
    """A loaded, verified model ready to predict."""

    directory: Path
    model: Pipeline
    metadata: ModelMetadata
    profile: ReferenceProfile
    #: None for a version trained before model cards (0.17.0).
    card: ModelCard | None = None

    @property
    def schema(self) -> FeatureSchema:
        """The feature schema inputs must follow."""
        return self.metadata.feature_schema

    def predict(self, frame: pd.DataFrame, *, skip_out_of_range: bool = False) -> pd.DataFrame:
        """Check ``frame`` against the schema and return prediction columns for its rows.

        A row with a value too far outside the training range for the model to score (see
        :func:`predict_in_range`) is an ``out_of_range`` violation, or with
        ``skip_out_of_range`` is left out of the result.

        Raises:
            SchemaError: naming every column and rule ``frame`` breaks, with row positions.
        """
        features = self.schema.prepare(frame)
        predictions, unscorable = predict_in_range(self.model, features, self.metadata.task)
        if unscorable and not skip_out_of_range:
            raise SchemaError(
                [
                    Violation(
                        column,
                        "out_of_range",
                        f"column {column!r}: {len(rows)} value(s) too far outside the training "
                        f"range for the model to score (rows {rows[:QUOTED_ROWS]})",
                        tuple(rows[:QUOTED_ROWS]),
                    )
                    for column, rows in unscorable.items()
                ]
            )
        return predictions


def save_bundle(
    directory: Path,
    model: Pipeline,
    metadata: ModelMetadata,
    profile: ReferenceProfile,
    card: Mapping[str, bytes] | None = None,
) -> ModelMetadata:
    """Write model, profile, ``card`` files (name -> content) and, last, metadata with digests."""
    files = {MODEL_FILE: save_model(model, directory / MODEL_FILE)}
    contents = {PROFILE_FILE: (profile.model_dump_json(indent=2) + "\n").encode(), **(card or {})}
    for name, content in contents.items():
        (directory / name).write_bytes(content)
        files[name] = hashlib.sha256(content).hexdigest()
    complete = metadata.model_copy(update={"files": files})
    (directory / METADATA_FILE).write_text(complete.model_dump_json(indent=2) + "\n", "utf-8")
    return complete


def check_versions(metadata: ModelMetadata, *, allow_mismatch: bool = False) -> None:
    """Refuse a model trained with another scikit-learn or skops major.minor than installed.

    With ``allow_mismatch`` the mismatch is logged as a warning instead.

    Raises:
        ArtifactError: naming each package with the trained and the installed version.
    """
    installed = package_versions(RUNTIME_PACKAGES)
    trained = metadata.package_versions
    mismatches = [
        f"{name} {trained.get(name, 'unknown')} (installed: {installed.get(name, 'none')})"
        for name in RUNTIME_PACKAGES
        if _major_minor(trained.get(name)) != _major_minor(installed.get(name))
    ]
    if not mismatches:
        return
    problem = f"model {metadata.version} was trained with {', '.join(mismatches)}"
    if allow_mismatch:
        logger.warning("%s; loading it anyway as version mismatches are allowed", problem)
        return
    raise ArtifactError(
        f"{problem}: it may predict wrongly under another major.minor version. Retrain it, "
        "install the versions it was trained with, or accept the risk with "
        "--allow-version-mismatch (server: MODEL_SERVER_ALLOW_VERSION_MISMATCH=true)"
    )


def load_bundle(path: Path, *, allow_version_mismatch: bool = False) -> ModelBundle:
    """Load the bundle in ``path``: a version directory, or a models root (its latest model).

    Every file is checked against the SHA-256 recorded in ``metadata.json`` before it
    is parsed; the model is loaded with skops' secure loader, and only when it was trained
    with the installed scikit-learn and skops major.minor versions (see :func:`check_versions`).

    Raises:
        ArtifactError: when a file is missing, altered, truncated or malformed, or the
            versions differ and ``allow_version_mismatch`` is false.
    """
    directory = resolve_model_dir(path)
    metadata_path = directory / METADATA_FILE
    try:
        metadata = ModelMetadata.model_validate_json(_read_text(metadata_path))
    except ValidationError as error:
        raise ArtifactError(f"{metadata_path} is malformed: {error}") from None
    check_versions(metadata, allow_mismatch=allow_version_mismatch)
    for name in (MODEL_FILE, PROFILE_FILE):
        if name not in metadata.files:
            raise ArtifactError(f"{directory / METADATA_FILE} records no digest for {name}")
    verified = {
        name: _verified(directory, name, digest)
        for name, digest in metadata.files.items()
        if name != MODEL_FILE  # load_model checks it, streaming
    }
    profile_path = directory / PROFILE_FILE
    try:
        profile = ReferenceProfile.model_validate_json(verified[PROFILE_FILE])
    except ValidationError as error:
        raise ArtifactError(f"{profile_path} is malformed: {error}") from None
    card = None
    if CARD_MARKDOWN in verified and CARD_HTML in verified:
        markdown, html = (
            _text(directory / name, verified[name]) for name in (CARD_MARKDOWN, CARD_HTML)
        )
        card = ModelCard(markdown, html)
    model = load_model(directory / MODEL_FILE, expected_sha256=metadata.files[MODEL_FILE])
    return ModelBundle(directory, model, metadata, profile, card)


def _text(path: Path, content: bytes) -> str:
    """``content`` of ``path`` as UTF-8 text, else ArtifactError."""
    try:
        return content.decode()
    except UnicodeDecodeError as error:
        raise ArtifactError(f"{path} is not UTF-8 text: {error}") from None


def _verified(directory: Path, name: str, digest: str) -> bytes:
    """The content of ``directory / name`` when it matches ``digest``; else ArtifactError."""
    if not is_version_name(name):
        raise ArtifactError(f"{directory / METADATA_FILE} names a file outside it: {name!r}")
    path = directory / name
    if not path.is_file():
        raise ArtifactError(f"{name} not found in {directory}")
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != digest:
        raise ArtifactError(
            f"{path} does not match the SHA-256 recorded at training time; it was altered or "
            "truncated: refusing to load the model"
        )
    return content


# Model files: skops' secure format, checked against their recorded digest. skops.io imports
# every scikit-learn estimator (about a second), so it is imported where a model file is read
# or written, not by every command and test worker that imports the package.


def save_model(model: Pipeline, path: Path) -> str:
    """Write ``model`` to ``path`` (``.skops``) and return the file's SHA-256 digest."""
    from skops.io import dump

    path.parent.mkdir(parents=True, exist_ok=True)
    dump(model, path)
    return sha256_file(path)


def load_model(path: Path, *, expected_sha256: str | None = None) -> Pipeline:
    """Load a pipeline saved by :func:`save_model`, refusing altered, untrusted or corrupt files."""
    from skops.io import get_untrusted_types, load

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
    untrusted = found - trusted_types()
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


# Versions under a models root and the pointer to the latest published one.


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
    return read_pointer(models_dir / LATEST_POINTER)


def incompatibilities(champion: ModelMetadata, candidate: ModelMetadata) -> list[str]:
    """Why ``candidate`` could not replace ``champion`` for the same callers; empty if it can.

    The task, target, ids, classes and every feature with its kind must be the same.
    """
    problems = []
    for what, before, after in (
        ("task", champion.task, candidate.task),
        ("target", champion.target, candidate.target),
        ("ids", champion.feature_schema.ids, candidate.feature_schema.ids),
        ("classes", champion.classes, candidate.classes),
    ):
        if before != after:
            problems.append(f"{what}: champion {before!r}, candidate {after!r}")
    kinds = {column.name: column.kind for column in champion.feature_schema.columns}
    new = {column.name: column.kind for column in candidate.feature_schema.columns}
    if missing := sorted(set(kinds) - set(new)):
        problems.append(f"features the candidate lacks: {missing}")
    if extra := sorted(set(new) - set(kinds)):
        problems.append(f"features the champion lacks: {extra}")
    changed = {
        name: f"{kinds[name]} -> {new[name]}"
        for name in kinds
        if new.get(name, kinds[name]) != kinds[name]
    }
    if changed:
        problems.append(f"feature kinds changed: {changed}")
    return problems


def read_pointer(pointer: Path) -> str | None:
    """The version a pointer file (``{"version": ...}``) names, or None without the file."""
    if not pointer.is_file():
        return None
    try:
        version = json.loads(pointer.read_text(encoding="utf-8"))["version"]
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise ArtifactError(f"{pointer} is malformed: {error!r}") from error
    if not isinstance(version, str) or not is_version_name(version):
        raise ArtifactError(f"{pointer} names an invalid version {version!r}")
    return version


def is_version_name(version: str) -> bool:
    """Whether ``version`` names a folder inside a models root (no path, not . or ..)."""
    return Path(version).name == version and version not in {"", ".", ".."}


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


# Provenance: the git commit, package versions and file digests recorded in the metadata.


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed version of each distribution; absent ones are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = installed_version(name)
        except PackageNotFoundError:
            continue
    return versions


def git_commit(start: Path) -> str | None:
    """Commit checked out in the git work tree holding ``start`` (``git rev-parse HEAD``).

    Returns None when git is not installed, ``start`` is outside a repository or the
    repository has no commit yet.
    """
    git = shutil.which("git")
    if git is None:
        return None
    try:
        # Fixed arguments to the resolved git executable, no shell.
        result = subprocess.run(  # nosec B603
            [git, "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=start,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("no git commit recorded: %s", error)
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 digest of the file at ``path``, streamed so it is never held in memory."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _major_minor(version: str | None) -> list[str] | None:
    return version.split(".")[:2] if version else None


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ArtifactError(f"{path.name} not found in {path.parent}")
    return path.read_text(encoding="utf-8")
