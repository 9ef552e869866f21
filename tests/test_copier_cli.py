"""A user's `copier copy` through the command line, without `--trust`."""

import sys
from pathlib import Path

from rendering import TEMPLATE_ROOT, copier_config
from runners import run


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
    assert (destination / "src" / "my_mlops_project" / "cli" / "__init__.py").is_file()
    assert "make install" in completed.stdout + completed.stderr
    assert "make check" in completed.stdout + completed.stderr


def test_template_uses_no_feature_that_needs_trust() -> None:
    """No tasks or Jinja extensions, so `copier copy` never needs --trust.

    Migrations run only when an update crosses their version, so each must name one: only an
    update across a release that moves a file needs --trust (docs/UPDATING.md).
    """
    config = copier_config()
    assert not {"_tasks", "_jinja_extensions"} & set(config)
    for migration in config.get("_migrations", []):
        assert isinstance(migration, dict), migration
        assert "version" in migration, (
            f"a migration without a version runs on every update: {migration}"
        )
        assert "migrations/carry_moved_file.py" in " ".join(migration["command"]), migration


def test_make_new_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    """`make new` into a folder holding a user's file refuses before writing anything."""
    destination = tmp_path / "my-files"
    destination.mkdir()
    (destination / "README.md").write_text("My notes, not a project.\n")

    completed = run(
        ["make", "--no-print-directory", "new", f"DEST={destination}"],
        cwd=TEMPLATE_ROOT,
        timeout=120,
        expect=2,
    )

    assert f"make new: {destination} is not an empty folder" in completed.stderr
    assert "FORCE=1" in completed.stderr
    assert [p.name for p in destination.iterdir()] == ["README.md"]
    assert (destination / "README.md").read_text() == "My notes, not a project.\n"
