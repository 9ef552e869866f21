"""Every render passes Scientific Python's repo-review checks (sp-repo-review)."""

import tomllib
from pathlib import Path

from repo_review.processor import process

from helpers import Project


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
