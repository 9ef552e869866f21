"""Every render passes Scientific Python's repo-review checks (sp-repo-review), and the
template's and the renders' GitHub workflows pass zizmor."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from repo_review.processor import process

from rendering import TEMPLATE_ROOT, Project


def test_repo_review_reports_no_failure(project: Project, project_dir: Path) -> None:
    results = process(project_dir).results
    failures = [f"{r.name} {r.description}: {r.err_msg}" for r in results if r.result is False]
    assert not failures, "\n\n".join(failures)


def test_repo_review_ignores_only_failing_checks_and_says_why(project_dir: Path) -> None:
    """Each ignored check has a reason and would fail (or not apply) without its ignore."""
    pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text())
    ignored = pyproject["tool"]["repo-review"]["ignore"]
    assert isinstance(ignored, dict), "give each ignored check its reason: ignore = {CODE = ...}"
    assert all(isinstance(reason, str) and reason for reason in ignored.values()), ignored
    # An explicit `ignore` replaces the one in pyproject.toml.
    results = {r.name: r for r in process(project_dir, ignore={"none"}).results}
    passing = sorted(code for code in ignored if results[code].result is True)
    assert not passing, f"these checks pass now: drop them from [tool.repo-review]: {passing}"


def _zizmor(workflows: Path) -> str:
    """zizmor's findings on ``workflows`` (offline: no GitHub API calls); empty when clean."""
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("zizmor")),
            "--offline",
            "--format",
            "plain",
            str(workflows),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr


def test_template_workflows_pass_zizmor() -> None:
    assert _zizmor(TEMPLATE_ROOT / ".github") == ""


def test_rendered_workflows_pass_zizmor(project: Project, project_dir: Path) -> None:
    if project.answers["ci"] != "github":
        pytest.skip(f"ci={project.answers['ci']} renders no GitHub workflows")
    assert _zizmor(project_dir / ".github") == ""
