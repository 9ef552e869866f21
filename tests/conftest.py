"""Meta-suite fixtures: one render per answer set and worker, one runner venv per interpreter."""

import shutil
from pathlib import Path

import pytest

from rendering import ANSWER_SETS, MLFLOW_SERVER_SET, TEMPLATE_ROOT, Project, render
from runners import Interpreter, interpreter_for, project_env, runner_venv, tracks_with_mlflow
from trained_copy import TrainedCopy, empty_mlflow_store, move_mlflow_store


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


@pytest.fixture(scope="session")
def venv(answer_set: str, project_dir: Path, interpreter: Interpreter) -> Path:
    """A runner venv holding the project's dependencies for its interpreter."""
    return runner_venv(project_dir, interpreter, mlflow_server=answer_set == MLFLOW_SERVER_SET)


@pytest.fixture(scope="session")
def trained_project(
    project_dir: Path, venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> TrainedCopy:
    """A copy of the render (which stays free of data and models) where ``make data train`` ran,
    once per worker and set; tests work in copies of it."""
    work = tmp_path_factory.mktemp("trained") / "project"
    shutil.copytree(project_dir, work)
    if tracks_with_mlflow(work):  # train records its run in ./mlflow.db: start it migrated
        shutil.copyfile(empty_mlflow_store(venv), work / "mlflow.db")
    trained = TrainedCopy(work, project_env(venv, work), venv)
    trained.make("data", "train")
    return trained


@pytest.fixture
def trained_copy(trained_project: TrainedCopy, venv: Path, tmp_path: Path) -> TrainedCopy:
    """A test's own copy of the trained project: data, models, MLflow store and run artifacts.

    The copy's store names the copy's own run artifacts (MLflow records absolute locations), as
    if it had trained where it is, so a test may train in its copy too.
    """
    work = tmp_path / "project"
    shutil.copytree(trained_project.directory, work)
    if (work / "mlflow.db").is_file():
        move_mlflow_store(work / "mlflow.db", trained_project.directory, work)
    return TrainedCopy(work, project_env(venv, work), venv)


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


# The longest modules go first, then the tests of one answer set together: `make test` runs
# `--dist worksteal`, which hands each worker a contiguous half of this order (and steals from it
# at the end), so each worker mostly renders and trains its own answer sets.
LONGEST_FIRST = ("test_user_journey.py", "test_golden_update.py", "test_update.py")
#: Fixtures that run a render's own tools in a runner venv: a test using one is in the slow tier.
RUNNER_FIXTURES = {"venv", "trained_copy", "trained_project"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need a runner venv ``slow``; order them as said above."""
    for item in items:
        if RUNNER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    module_rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    set_rank = {name: position for position, name in enumerate(ANSWER_SETS)}

    def order(item: pytest.Item) -> tuple[int, int]:
        callspec = getattr(item, "callspec", None)
        answer_set = callspec.params.get("answer_set") if callspec else None
        return module_rank.get(item.path.name, len(module_rank)), set_rank.get(answer_set, -1)

    items.sort(key=order)
