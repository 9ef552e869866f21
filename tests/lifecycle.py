"""Helpers of the update-lifecycle tests: template clones, renders at a ref, team commits, updates.

A test works in its own clone of this repository (history and release tags included) whose HEAD
commit holds the working tree, uncommitted work included, so nothing depends on the network.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from copier import run_update

from rendering import TEMPLATE_ROOT
from runners import GIT_ENV, interpreter_for, project_env, run, runner_venv

COPIER = Path(sys.executable).parent / "copier"
ENV = os.environ | GIT_ENV
CONFLICT_MARKER = re.compile(rb"^(<<<<<<< |>>>>>>> )", re.M)
CONFLICT_BLOCK = re.compile(
    r"^<<<<<<< before updating\n.*?^=======\n(.*?)^>>>>>>> after updating\n", re.M | re.S
)


TEAM_MODULE = '''"""Decision thresholds agreed with the business."""


def approval_threshold(risk_appetite: float) -> float:
    """Probability above which a case is approved, for a risk appetite in [0, 1]."""
    if not 0.0 <= risk_appetite <= 1.0:
        raise ValueError(f"risk_appetite must be within [0, 1], got {risk_appetite}")
    return 0.9 - 0.4 * risk_appetite
'''
TEAM_MODULE_TEST = '''"""Tests of the business thresholds."""

import pytest

from {package}.core.thresholds import approval_threshold

pytestmark = pytest.mark.unit


def test_threshold_falls_as_risk_appetite_rises() -> None:
    assert approval_threshold(0.0) == pytest.approx(0.9)
    assert approval_threshold(1.0) == pytest.approx(0.5)


def test_threshold_refuses_appetite_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match="within"):
        approval_threshold(1.5)
'''


def team_module(package: str) -> dict[str, str]:
    """A module a team adds to its package, with its test, by path."""
    return {
        f"src/{package}/core/thresholds.py": TEAM_MODULE,
        "tests/unit/test_thresholds.py": TEAM_MODULE_TEST.format(package=package),
    }


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; return its stdout."""
    return run(["git", *args], cwd=cwd, env=ENV).stdout


def clone_template(clone: Path) -> Path:
    """Clone this repository with history and tags; its HEAD commit is the working tree."""
    run(["git", "clone", "--quiet", str(TEMPLATE_ROOT), str(clone)], env=ENV)
    tracked = git(TEMPLATE_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    names = set(filter(None, tracked.split("\0")))
    for name in names | set(filter(None, git(clone, "ls-files", "-z").split("\0"))):
        source, target = TEMPLATE_ROOT / name, clone / name
        if name in names and source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif target.is_file():  # deleted or renamed in the working tree
            target.unlink()
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", "Working tree")
    return clone


def commit_all(project: Path, message: str) -> None:
    """Stage and commit everything in ``project`` (a new repository on first use)."""
    if not (project / ".git").exists():
        git(project, "init", "--quiet", "--initial-branch", "main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "--no-verify", "-m", message)


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` outside .git, by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def changed_paths(project: Path) -> set[str]:
    """Paths git reports as changed, added or deleted since the last commit."""
    listed = git(project, "status", "--porcelain", "--untracked-files=all")
    return {line[3:] for line in listed.splitlines()}


def with_conflict_markers(project: Path) -> set[str]:
    """Files holding inline conflict markers."""
    return {name for name, data in files(project).items() if CONFLICT_MARKER.search(data)}


def take_template_side(path: Path) -> None:
    """Resolve every inline conflict in ``path`` with the template's lines ('after updating')."""
    path.write_text(CONFLICT_BLOCK.sub(r"\1", path.read_text()))


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path`` with ``new``."""
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: expected exactly one {old!r}"
    path.write_text(text.replace(old, new))


def update(project: Path, ref: str, **options: object) -> None:
    """`copier update --defaults --vcs-ref ref` through the Python API (conflicts inline)."""
    run_update(
        project,
        defaults=True,
        overwrite=True,
        vcs_ref=ref,
        quiet=True,
        **{"unsafe": False, **options},  # type: ignore[arg-type]
    )


def make_update(
    project: Path, ref: str, copier: Path = COPIER, extra: str = "", *, force: bool = False
) -> subprocess.CompletedProcess[str]:
    """The generated project's `make update`, pinned to ``ref``; its exit code is not checked."""
    return subprocess.run(
        [
            "make",
            "update",
            f"COPIER={copier}",
            f"UPDATE_ARGS=--vcs-ref {ref} {extra}".rstrip(),
            *(["FORCE=1"] if force else []),
        ],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def make(project: Path, python_version: str, *targets: str) -> None:
    """The project's make targets in a runner venv with its declared dependencies."""
    venv = runner_venv(project, interpreter_for(python_version))
    run(["make", f"VENV={venv}", *targets], cwd=project, env=project_env(venv, project))
