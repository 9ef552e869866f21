"""Every render passes its own checks: ruff, ruff format, mypy --strict, bandit and its tests.

Each project runs in a runner venv that holds its dependencies for the interpreter of its
``python_version`` answer (or the newest one present), with ``src/`` on the path: rendered projects
are never installed into the template's environment, so xdist workers cannot collide.
"""

import shutil
from collections.abc import Callable
from pathlib import Path

from test_generated_imports import INDEPENDENCE, LAYERS

from helpers import Interpreter, Project, project_env, run, version_key


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
    assert "Contracts: 2 kept, 0 broken." in output


def test_mypy_strict(project_dir: Path, venv: Path) -> None:
    assert "Success: no issues found" in _make(project_dir, venv, "type")


def test_bandit(project_dir: Path, venv: Path) -> None:
    _make(project_dir, venv, "security")


def test_own_tests_pass_with_coverage(project_dir: Path, venv: Path) -> None:
    completed = run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "--cov"],
        cwd=project_dir,
        env=project_env(venv, project_dir),
    )
    assert "Required test coverage of 90" in completed.stdout
    assert " passed" in completed.stdout
    assert " failed" not in completed.stdout
    # Tests that need a tool run, not skip, where it is present (.ci/run installs them).
    skipped = [line for line in completed.stdout.splitlines() if line.startswith("SKIPPED")]
    if shutil.which("kubectl") and shutil.which("promtool"):
        deploy = [line for line in skipped if "test_kubernetes" in line or "observability" in line]
        assert not deploy, "\n".join(deploy)
    if shutil.which("chromium"):  # the /docs page in a real browser, offline
        browser = [line for line in skipped if "Chromium" in line]
        assert not browser, "\n".join(browser)
