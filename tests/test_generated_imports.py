"""import-linter holds the generated package's layers: `lint-imports` fails on a forbidden import.

The contracts are in the render's pyproject.toml: `cli` above `serving | monitoring` above
`core`, and serving and monitoring independent of each other (`make lint` runs `lint-imports`:
test_generated_checks.py checks that every render keeps them). Each case adds one forbidden
import to a package's `__init__.py` (present whatever modules the package holds) in a copy of
the render.
"""

import shutil
from pathlib import Path

import pytest

from rendering import INDEPENDENCE, LAYERS, Project
from runners import project_env, run


def _lint_imports(project_dir: Path, venv: Path, expect: int) -> str:
    command = [str(venv / "bin" / "lint-imports"), "--no-cache"]
    return run(command, cwd=project_dir, env=project_env(venv, project_dir), expect=expect).stdout


@pytest.mark.parametrize("answer_set", ["defaults"], indirect=True)
@pytest.mark.parametrize(
    ("importer", "imported"),
    [("serving", "monitoring"), ("monitoring", "serving"), ("core", "serving"), ("serving", "cli")],
    ids=["serving-to-monitoring", "monitoring-to-serving", "core-up", "serving-up"],
)
def test_a_forbidden_import_fails_naming_the_contract_and_the_import(
    project: Project, venv: Path, tmp_path: Path, importer: str, imported: str
) -> None:
    """Each case breaks the layers; one between serving and monitoring breaks independence too.

    Package `__init__` files import nothing (no facade), so an import planted in one links
    exactly the two packages it names.
    """
    work = tmp_path / "project"
    shutil.copytree(project.directory, work)
    package = str(project.answers["package_name"])
    init = work / "src" / package / importer / "__init__.py"
    init.write_text(init.read_text() + f"\nfrom .. import {imported}  # noqa: F401, E402\n")

    output = _lint_imports(work, venv, expect=1)

    assert f"{LAYERS} BROKEN" in output, output
    siblings = {importer, imported} == {"serving", "monitoring"}
    assert (f"{INDEPENDENCE} BROKEN" in output) is siblings, output
    assert f"{package}.{importer} is not allowed to import {package}.{imported}:" in output, output
    assert f"- {package}.{importer} -> {package}.{imported} (l." in output, output
    kept_and_broken = "1 kept, 2 broken" if siblings else "2 kept, 1 broken"
    assert f"Contracts: {kept_and_broken}." in output, output
