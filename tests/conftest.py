"""Meta-suite fixtures: one render per answer set and worker, one runner venv per interpreter."""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_copie.plugin import Copie, Result

from helpers import ANSWER_SETS, Interpreter, interpreter_for, project_env, run, runner_venv

Render = Callable[[dict[str, object]], Result]


@pytest.fixture(scope="session")
def render(copie_session: Copie) -> Render:
    """Render the template's working tree with extra answers; check ``result.exception``."""

    def _render(answers: dict[str, object]) -> Result:
        return copie_session.copy(extra_answers=answers)

    return _render


@pytest.fixture(scope="session")
def rendered_projects(render: Render) -> dict[str, Result]:
    """Renders are cached per worker and answer set (filled on first use)."""
    return {}


@pytest.fixture(params=list(ANSWER_SETS), scope="session")
def answer_set(request: pytest.FixtureRequest) -> str:
    """Id of one answer set; every test that uses it runs once per set."""
    answer_id: str = request.param
    return answer_id


@pytest.fixture(scope="session")
def project(answer_set: str, render: Render, rendered_projects: dict[str, Result]) -> Result:
    """The project rendered from ``answer_set`` (rendered once per worker)."""
    if answer_set not in rendered_projects:
        result = render(ANSWER_SETS[answer_set])
        assert result.exception is None, result.exception
        rendered_projects[answer_set] = result
    return rendered_projects[answer_set]


@pytest.fixture(scope="session")
def project_dir(project: Result) -> Path:
    """Directory of the rendered project."""
    assert project.project_dir is not None
    return project.project_dir


@pytest.fixture(scope="session")
def interpreter(project: Result) -> Interpreter:
    """Interpreter that checks the project: its minimum Python, else the newest one present."""
    return interpreter_for(str(project.answers["python_version"]))


@pytest.fixture(scope="session")
def venv(project_dir: Path, interpreter: Interpreter) -> Path:
    """A runner venv holding the project's dependencies for its interpreter."""
    return runner_venv(project_dir, interpreter)


@dataclass(frozen=True)
class TrainedCopy:
    """A copy of a render where ``make data train`` has run, with the env to run more in it."""

    directory: Path
    env: dict[str, str]
    venv: Path

    def make(self, *targets: str) -> None:
        """Run make targets in the copy with the runner venv."""
        run(["make", f"VENV={self.venv}", *targets], cwd=self.directory, env=self.env)


@pytest.fixture
def trained_copy(project_dir: Path, venv: Path, tmp_path: Path) -> TrainedCopy:
    """A copy of the render (the shared one stays free of data and models), trained."""
    work = tmp_path / "project"
    shutil.copytree(project_dir, work)
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
