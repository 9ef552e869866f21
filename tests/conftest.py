"""Meta-suite fixtures: one render per answer set and worker, one runner venv per interpreter."""

import shutil
from pathlib import Path

import pytest

from helpers import (
    ANSWER_SETS,
    TEMPLATE_ROOT,
    Interpreter,
    Project,
    TrainedCopy,
    empty_mlflow_store,
    interpreter_for,
    project_env,
    render,
    runner_venv,
    tracks_with_mlflow,
)


@pytest.fixture(params=list(ANSWER_SETS), scope="session")
def answer_set(request: pytest.FixtureRequest) -> str:
    """Name of one answer set; every test that uses it runs once per set."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def project(answer_set: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The template's working tree rendered with ``answer_set`` (once per worker and set)."""
    destination = tmp_path_factory.mktemp(answer_set) / "project"
    return render(TEMPLATE_ROOT, destination, **ANSWER_SETS[answer_set])


@pytest.fixture(scope="session")
def project_dir(project: Project) -> Path:
    """Directory of the rendered project."""
    return project.directory


@pytest.fixture(scope="session")
def interpreter(project: Project) -> Interpreter:
    """Interpreter that checks the project: its minimum Python, else the newest one present."""
    return interpreter_for(str(project.answers["python_version"]))


#: The answer set whose runner venv also holds the full `mlflow` (its `mlflow server`), so the
#: render's own test against a real tracking server runs there (it is skipped elsewhere).
MLFLOW_SERVER_SET = "defaults"


@pytest.fixture(scope="session")
def venv(answer_set: str, project_dir: Path, interpreter: Interpreter) -> Path:
    """A runner venv holding the project's dependencies for its interpreter."""
    return runner_venv(project_dir, interpreter, mlflow_server=answer_set == MLFLOW_SERVER_SET)


@pytest.fixture
def trained_copy(project_dir: Path, venv: Path, tmp_path: Path) -> TrainedCopy:
    """A copy of the render (the shared one stays free of data and models), trained."""
    work = tmp_path / "project"
    shutil.copytree(project_dir, work)
    if tracks_with_mlflow(work):  # train records its run in ./mlflow.db: start it migrated
        shutil.copyfile(empty_mlflow_store(venv), work / "mlflow.db")
    trained = TrainedCopy(work, project_env(venv, work), venv)
    trained.make("data", "train")
    return trained


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which interpreter checked each render (recorded by test_interpreter_matches_...)."""
    lines = sorted(
        {
            f"{report.nodeid.split('[')[-1].rstrip(']')}: {value}"
            for report in terminalreporter.stats.get("passed", [])
            for name, value in report.user_properties
            if name == "interpreter"
        }
    )
    if lines:
        terminalreporter.section("interpreters used for rendered projects")
        for line in lines:
            terminalreporter.line(line)


# The longest tests go first, so two workers do not wait on one of them at the end of the run.
LONGEST_FIRST = ("test_user_journey.py", "test_golden_update.py", "test_update.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the longest test modules first (stable: the rest keep their order)."""
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
