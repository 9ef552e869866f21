"""Renders install what the template tested: each ships the lock of its answers from ``locks/``.

The locks are data of this repository (``scripts/lock.py`` writes them, up to the cut-off of
pyproject.toml's ``[tool.uv] exclude-newer``), so every run of one commit installs the same
versions, whatever upstream published since. What the meta suite installs for a render (its
runner venv, the user journey's ``make install``) comes from the render's own lock.
"""

import os
import re
import shutil
import sys
import tomllib
from datetime import datetime
from pathlib import Path

import pytest

from rendering import TEMPLATE_ROOT, Project, copier_config
from runners import INTERPRETERS, cutoff, run, uv_command, version_key

sys.path.insert(0, str(TEMPLATE_ROOT / "scripts"))
from lock import LOCKED_NAME, LOCKS, Variant, variants

UPLOAD_TIME = re.compile(r'upload-time = "([^"]+)"')


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_one_lock_per_python_tracking_and_docker_answer() -> None:
    expected = {variant.path.name for variant in variants()}
    assert {path.name for path in LOCKS.glob("*")} == expected
    config = copier_config()
    assert len(expected) == len(config["python_version"]["choices"]) * 2 * 2


@pytest.mark.parametrize("variant", variants(), ids=lambda variant: variant.name)
def test_lock_holds_nothing_newer_than_the_cutoff_and_no_cutoff_option(variant: Variant) -> None:
    """Resolution saw no file uploaded after the cut-off; the lock leaves the option out, so a
    team's `uv lock`, `make upgrade` and Dependabot resolve without it."""
    text = variant.path.read_text()
    assert text.startswith("version = 1\n"), "not a uv lock"
    assert "\n[options]\n" not in text
    assert "exclude-newer" not in text
    assert not re.search(r"{{|{%|{#", text), "Jinja delimiters: uv.lock.jinja includes it"
    assert text.count(f'\nname = "{LOCKED_NAME}"\nsource = {{ editable = "." }}\n') == 1
    assert f'\nrequires-python = ">={variant.python_version}"\n' in text
    limit = _moment(cutoff())
    newer = sorted({s for s in UPLOAD_TIME.findall(text) if _moment(s) > limit})
    assert not newer, f"files uploaded after the cut-off {cutoff()}: {newer[:5]}"


def test_render_ships_the_lock_of_its_answers_under_its_own_name(project: Project) -> None:
    answers = project.answers
    variant = Variant(str(answers["python_version"]), str(answers["tracking"]), answers["docker"])
    expected = variant.path.read_text().replace(
        f'\nname = "{LOCKED_NAME}"\n', f'\nname = "{answers["project_slug"]}"\n', 1
    )
    assert (project.directory / "uv.lock").read_text() == expected


def test_shipped_lock_matches_the_rendered_pyproject_offline(
    project: Project, tmp_path: Path
) -> None:
    """`uv lock --check`: what `make install` (and CI with UV_LOCKED) accepts as current."""
    wanted = str(project.answers["python_version"])
    usable = [v for v in INTERPRETERS if version_key(v) >= version_key(wanted)]
    if not usable:
        pytest.skip(f"uv lock --check needs Python {wanted} or newer, not on this machine")
    work = tmp_path / "project"  # uv may build the project's metadata: not in the shared render
    shutil.copytree(project.directory, work)
    python = str(INTERPRETERS[min(usable, key=version_key)].path)
    check = [*uv_command(), "lock", "--check", "--offline", "--no-python-downloads"]
    run([*check, "--python", python], cwd=work)


def test_build_requirements_are_pinned_as_the_lock_records_them(project: Project) -> None:
    """uv.lock holds no build requirements: the render pins its backend and the backend's own."""
    pyproject = tomllib.loads((project.directory / "pyproject.toml").read_text())
    pins = pyproject["tool"]["uv"]["build-constraint-dependencies"]
    assert all(re.fullmatch(r"[a-z0-9-]+==[0-9][0-9.]*", pin) for pin in pins), pins
    backend = {re.split(r"[<>=!~ ;\[]", need)[0] for need in pyproject["build-system"]["requires"]}
    assert backend <= {pin.split("==")[0] for pin in pins}
    lock = tomllib.loads((project.directory / "uv.lock").read_text())
    recorded = {f"{c['name']}{c['specifier']}" for c in lock["manifest"]["build-constraints"]}
    assert recorded == set(pins)


def test_make_upgrade_refuses_a_package_the_lock_does_not_pin(project: Project) -> None:
    """A typo would upgrade nothing and say nothing: it is refused before uv runs."""
    env = os.environ | {"PATH": f"{Path(uv_command()[0]).parent}{os.pathsep}{os.environ['PATH']}"}
    lock = (project.directory / "uv.lock").read_text()
    upgrade = ["make", "upgrade", "PACKAGE=scikit_lern"]
    refused = run(upgrade, cwd=project.directory, env=env, expect=2)
    assert "PACKAGE=scikit_lern is not a package uv.lock pins" in refused.stderr
    assert (project.directory / "uv.lock").read_text() == lock
    assert not (project.directory / ".venv").exists()
