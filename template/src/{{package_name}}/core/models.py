"""Where a model comes from: a version folder, a models root, or a registered version.

Every command and service that takes a model reference goes through :func:`open_model`: a
folder (a version, or a models root whose ``latest.json`` names one) is used in place; a
registered version (``models:/<name>@<alias>`` or ``models:/<name>/<version>``) is fetched
into a temporary folder, verified against its registered digests and loaded. Registered
versions need the ``tracking`` module beside this one, which the project has when it tracks
with MLflow; :func:`tracking_module` finds it at run time, so nothing here names MLflow and
a project without it refuses registry references with one clear line.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    from .bundle import ModelBundle
    from .config import TrainConfig
    from .promotion import Champions

#: The scheme of a registered version's URI.
REGISTRY_SCHEME = "models:/"
MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>[1-9][0-9]*)|@(?P<alias>[\w-]+))")


class TrackingError(RuntimeError):
    """The tracking store or registry refused a request, or holds no such model.

    ``temporary`` when trying again later may succeed: the server did not answer, answered
    with a server error, or the store was locked.
    """

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        """``message`` names the action, the store and the cause."""
        super().__init__(message)
        self.temporary = temporary


@dataclass(frozen=True)
class ModelReference:
    """A registered model version, by number or by alias: ``models:/<name>/<n>|@<alias>``."""

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, uri: str) -> Self:
        """Parse ``uri``, naming the accepted forms when it is malformed."""
        match = MODEL_URI.fullmatch(uri)
        if match is None:
            raise ValueError(
                f"model URI {uri!r} is malformed: use models:/<name>@<alias> "
                "(e.g. models:/churn@champion) or models:/<name>/<version>"
            )
        version = match["version"]
        return cls(match["name"], int(version) if version else None, match["alias"])

    def __str__(self) -> str:
        """The URI form."""
        where = f"@{self.alias}" if self.alias else f"/{self.version}"
        return f"models:/{self.name}{where}"


@dataclass(frozen=True)
class OpenedModel:
    """A model's local folder; for a registered version, its verified bundle and registry facts."""

    folder: Path
    bundle: ModelBundle | None = None
    #: What /model reports of a registered version: uri, name, version, alias, aliases.
    registered: dict[str, Any] | None = None


class Fetch(Protocol):
    """How the tracking module fetches a registered version into a folder."""

    def __call__(
        self,
        reference: ModelReference,
        folder: Path,
        *,
        config: TrainConfig | None,
        allow_version_mismatch: bool,
    ) -> OpenedModel:
        """Download, verify and load ``reference`` into ``folder``."""
        ...


def is_model_uri(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` names a registered model rather than a local folder."""
    return str(text).startswith(REGISTRY_SCHEME)


def tracking_module() -> ModuleType | None:
    """The project's ``tracking`` module (MLflow runs and registry), or None without one."""
    name = f"{__package__}.tracking"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:  # the module exists but something it imports is missing
            raise
        return None


def has_registry() -> bool:
    """Whether this project can name registered versions (it tracks with MLflow)."""
    return importlib.util.find_spec(f"{__package__}.tracking") is not None


def model_forms() -> str:
    """The model references this project accepts, for help texts."""
    registered = ", registered version (e.g. models:/<name>@champion)" if has_registry() else ""
    return f"model version directory, models root{registered}"


@contextmanager
def open_model(
    reference: str | os.PathLike[str],
    *,
    config: TrainConfig | None = None,
    allow_version_mismatch: bool = False,
) -> Iterator[OpenedModel]:
    """The local folder ``reference`` names: itself, or a verified download removed on exit.

    ``config`` names the tracking store and artifacts folder (else ``MLFLOW_TRACKING_URI`` or
    the default store).

    Raises:
        ValueError: for a malformed registry URI, or any registry URI in a project that does
            not track with MLflow.
    """
    if not is_model_uri(reference):
        yield OpenedModel(Path(reference))
        return
    parsed = ModelReference.parse(str(reference))
    module = tracking_module()
    if module is None:
        raise ValueError(
            f"{parsed} is a registered version, but this project does not track models with "
            "MLflow (tracking: none): pass a model version directory or a models root"
        )
    fetch: Fetch = module.fetch_registered
    with TemporaryDirectory(prefix="registered-model-") as scratch:
        yield fetch(
            parsed, Path(scratch), config=config, allow_version_mismatch=allow_version_mismatch
        )


def training_recorder(config: TrainConfig) -> RunRecorder | None:
    """What records a training run and registers its model, or None without tracking."""
    module = tracking_module()
    if module is None:
        return None
    recorder: RunRecorder = module.TrainingRecorder(config)
    return recorder


class RunRecorder(Protocol):
    """Records one training run (see ``workflow.run_training``'s ``record``)."""

    def __call__(self, directory: Path, passed: bool) -> Callable[[], None] | None:
        """Record the run that saved ``directory``; return what publishes its registration."""
        ...

    def summary(self) -> dict[str, Any]:
        """What the run became (run id, registered version), for the command's output."""
        ...


def champions(config: TrainConfig) -> Champions:
    """Where the champion lives: the registry's aliases, or without tracking the models folder."""
    module = tracking_module()
    if module is None:
        from .promotion import LocalChampions

        return LocalChampions(config.output.models_dir)
    store: Champions = module.RegistryChampions(config)
    return store
