"""Every render passes its own checks: ruff, ruff format, mypy --strict, bandit and its tests.

Each project runs in a runner venv that holds its dependencies for the interpreter of its
``python_version`` answer (or the newest one present), with ``src/`` on the path: rendered projects
are never installed into the template's environment, so xdist workers cannot collide.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from rendering import (
    ANSWER_SETS,
    DOMAIN,
    INDEPENDENCE,
    JOURNEY_SET,
    LAYERS,
    MLFLOW_SERVER_SET,
    Project,
)
from runners import Interpreter, assert_tool_tests_ran, project_env, run, version_key

#: The user journey's `make check` and `pre-commit run --all-files` already type-check, test
#: (with coverage, on every core) and lint the Markdown of the default render: these checks run
#: on the other answer sets only.
NOT_IN_JOURNEY = [name for name in ANSWER_SETS if name != JOURNEY_SET]
#: The generated statistical harness: about two minutes of CPU, the same code in every render.
ALERT_RATES = (
    "tests/integration/test_alert_rates.py::"
    "test_drift_alerts_rarely_on_unchanged_data_and_catches_a_half_sd_shift"
)
#: A million labels ingested: seconds of CPU, the same code in every render.
LABELS_VOLUME = "tests/integration/test_labels_volume.py"


def _make(project_dir: Path, venv: Path, *targets: str) -> str:
    completed = run(
        ["make", f"VENV={venv}", *targets], cwd=project_dir, env=project_env(venv, project_dir)
    )
    return completed.stdout


def test_interpreter_matches_minimum_python(
    project: Project, interpreter: Interpreter, record_property: Callable[[str, object], None]
) -> None:
    wanted = str(project.answers["python_version"])
    if interpreter.version == wanted:
        used = f"Python {interpreter.version} ({interpreter.path})"
    else:
        assert version_key(interpreter.version) < version_key(wanted)
        used = f"Python {interpreter.version}, the newest present: {wanted} is not on this machine"
    record_property("interpreter", f"python_version {wanted} checked with {used}")


def test_lint_format_and_import_contracts(project_dir: Path, venv: Path) -> None:
    output = _make(project_dir, venv, "lint")
    assert "All checks passed!" in output
    assert "already formatted" in output
    assert f"{LAYERS} KEPT" in output
    assert f"{INDEPENDENCE} KEPT" in output
    assert f"{DOMAIN} KEPT" in output
    assert "Contracts: 3 kept, 0 broken." in output


@pytest.mark.parametrize("answer_set", NOT_IN_JOURNEY, indirect=True)
def test_markdown_lint(project_dir: Path, venv: Path) -> None:
    """pymarkdown as the pre-commit hook runs it (the journey's pre-commit run covers defaults)."""
    files = sorted(str(path.relative_to(project_dir)) for path in project_dir.rglob("*.md"))
    command = [str(venv / "bin" / "pymarkdown"), "--config", ".pymarkdown.json", "scan", *files]
    run(command, cwd=project_dir, env=project_env(venv, project_dir))


@pytest.mark.parametrize("answer_set", NOT_IN_JOURNEY, indirect=True)
def test_mypy_strict(project_dir: Path, venv: Path) -> None:
    assert "Success: no issues found" in _make(project_dir, venv, "type")


def test_bandit(project_dir: Path, venv: Path) -> None:
    _make(project_dir, venv, "security")


@pytest.mark.parametrize("answer_set", NOT_IN_JOURNEY, indirect=True)
def test_own_tests_pass_with_coverage(answer_set: str, project_dir: Path, venv: Path) -> None:
    """Every test but the alert-rate measurement and the million labels, which no answer
    changes: the journey's ``make check`` runs them, on the default render."""
    skipped = ["--deselect", ALERT_RATES, "--deselect", LABELS_VOLUME]
    completed = run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "--cov", *skipped],
        cwd=project_dir,
        env=project_env(venv, project_dir),
    )
    assert "Required test coverage of 90" in completed.stdout
    assert " passed" in completed.stdout
    assert " failed" not in completed.stdout
    assert_tool_tests_ran(completed.stdout, mlflow_server=answer_set == MLFLOW_SERVER_SET)
