"""A user's `copier copy` through the command line, without `--trust`."""

import sys
from pathlib import Path

import yaml

from helpers import TEMPLATE_ROOT, run


def test_copy_without_trust_renders_and_tells_what_to_run_next(tmp_path: Path) -> None:
    destination = tmp_path / "my-project"
    copier = Path(sys.executable).parent / "copier"
    completed = run(
        [
            str(copier),
            "copy",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            str(TEMPLATE_ROOT),
            str(destination),
        ]
    )
    assert (destination / "src" / "my_mlops_project" / "cli.py").is_file()
    assert "make install" in completed.stdout + completed.stderr
    assert "make check" in completed.stdout + completed.stderr


def test_template_uses_no_feature_that_needs_trust() -> None:
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    assert not {"_tasks", "_jinja_extensions", "_migrations"} & set(config)
