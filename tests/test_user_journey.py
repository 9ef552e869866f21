"""What a user does on a fresh machine: render, git init, `make install`, `make check`.

Its `make check` is also the default render's mypy --strict and own tests with coverage, which
test_generated_checks runs for the other answer sets.

Slow: `make install` creates the project's own `.venv` with uv and installs from the package index.
"""

import os
from pathlib import Path

import pytest

from helpers import (
    ANSWER_SETS,
    GIT_ENV,
    JOURNEY_SET,
    TEMPLATE_ROOT,
    assert_tool_tests_ran,
    render,
    run,
)

pytestmark = pytest.mark.slow


def test_render_install_check(tmp_path: Path) -> None:
    project = render(TEMPLATE_ROOT, tmp_path / "project", **ANSWER_SETS[JOURNEY_SET])
    project_dir = project.directory
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}} | GIT_ENV
    run(["git", "init", "--quiet"], cwd=project_dir, env=env)
    run(["git", "add", "--all"], cwd=project_dir, env=env)
    run(["git", "commit", "--quiet", "-m", "Start from copier-mlops"], cwd=project_dir, env=env)

    install = run(["make", "install"], cwd=project_dir, env=env)
    assert (project_dir / ".venv" / "bin" / "python").exists()
    assert (project_dir / "uv.lock").is_file()
    assert "pre-commit installed at .git/hooks/pre-commit" in install.stdout
    assert (project_dir / ".git" / "hooks" / "pre-push").is_file()

    check = run(["make", "check"], cwd=project_dir, env=env)
    assert "Required test coverage of 90" in check.stdout
    assert "created: " in check.stdout  # its tests ran on every core (pytest-xdist)
    assert "Success: no issues found" in check.stdout  # mypy --strict
    assert_tool_tests_ran(check.stdout)

    run([".venv/bin/pre-commit", "run", "--all-files"], cwd=project_dir, env=env)
    slug = str(project.answers["project_slug"])
    help_text = run([f".venv/bin/{slug}", "--help"], cwd=project_dir, env=env).stdout
    assert f"usage: {slug}" in help_text
    assert "Show this help" in run(["make", "help"], cwd=project_dir, env=env).stdout
