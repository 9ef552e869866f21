"""`copier update` as a team lives it: template releases arrive and the team's edits survive.

Every test works in its own clone of this repository whose HEAD holds the working tree
(uncommitted work included) and creates its own release tags there, so nothing depends on the
network or on the tags of the real repository. Updates from the real releases are in
test_golden_update.py.
"""

import re
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from copier.errors import UnsafeTemplateError

from lifecycle import (
    changed_paths,
    clone_template,
    commit_all,
    edit,
    files,
    git,
    make_update,
    team_module,
    update,
    with_conflict_markers,
)
from rendering import GITHUB_FILES, TEMPLATE_ROOT, expected_files, render
from runners import GIT_ENV, interpreter_for, runner_venv

# Tags of the test clones: far above real releases, so they never clash with them.
OLD, NEW = "v100.0.0", "v100.1.0"


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copier commits in scratch repositories in-process: give git an identity."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A clone of this repository (history and tags) whose HEAD commit is the working tree."""
    return clone_template(tmp_path / "template")


def release(template: Path, tag: str, change: Callable[[Path], None] | None = None) -> None:
    """Commit ``change`` (a function editing the template clone), then tag ``tag``."""
    if change is not None:
        change(template)
        git(template, "add", "-A")
        git(template, "commit", "--quiet", "--no-verify", "-m", f"Template change for {tag}")
    git(template, "tag", tag)


# -- template changes the tests release


def new_make_target_and_ci_step(template: Path) -> None:
    """A new Makefile target, a changed step in the GitHub workflow, a changed config comment."""
    edit(
        template / "template" / "configs" / "train.yaml.jinja",
        "  folds: 5  # folds for strategy cv\n",
        "  folds: 5  # number of folds for strategy cv\n",
    )
    edit(
        template / "template" / "Makefile.jinja",
        "clean: ## Remove caches",
        "files: ## List the files git tracks\n\tgit ls-files\n\nclean: ## Remove caches",
    )
    edit(
        next((template / "template").glob("*.github*/workflows/ci.yml.jinja")),
        "      - name: Test with coverage\n        run: make test-parallel-cov\n",
        "      - name: Test with coverage (slowest ten tests listed)\n"
        "        run: make test-parallel-cov PYTEST_ADDOPTS=--durations=10\n",
    )


# A team's own make target, appended to the Makefile. A stable spot whatever the generated code
# looks like: the generated docs/DEVELOPMENT.md tells teams to add their targets at the end of the
# Makefile, and the template adds its own above `clean`, so updates merge both.
TEAM_TARGET = (
    "\n.PHONY: retrain\n"
    "retrain: ## Refresh the data and retrain (the team's own target)\n\t$(MAKE) data train\n"
)


def add_team_target(project: Path) -> None:
    """Append the team's make target to the project's Makefile."""
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + TEAM_TARGET)


def team_edits(project: Path, package: str) -> dict[str, bytes]:
    """What a team does after the first render; returns the files only the team changes.

    Also appends the team's make target to the Makefile, which the template changes too.
    """
    add_team_target(project)
    edit(
        project / "pyproject.toml",
        '    "numpy>=1.26",\n',
        '    "joblib>=1.3",\n    "numpy>=1.26",\n',
    )
    edit(project / "configs" / "train.yaml", "seed: 42  #", "seed: 42  # agreed with QA;")
    for name, text in team_module(package).items():
        (project / name).write_text(text)
    readme = project / "README.md"
    readme.write_text(
        readme.read_text().replace("## Quick start", "## Quick start\n\nAsk #ml-platform first.", 1)
        + "\n## Team notes\n\nModels are retrained every Monday.\n"
    )
    names = [
        "pyproject.toml",
        "configs/train.yaml",
        f"src/{package}/core/thresholds.py",
        "tests/unit/test_thresholds.py",
        "README.md",
    ]
    return {name: (project / name).read_bytes() for name in names}


# -- 1. template changes arrive, team edits survive


def test_update_brings_template_changes_and_keeps_every_team_edit(
    template: Path, tmp_path: Path
) -> None:
    release(template, OLD)
    project = render(template, tmp_path / "project", OLD).directory
    commit_all(project, "Start from copier-mlops")
    edited = team_edits(project, "my_mlops_project")
    commit_all(project, "Team edits")
    release(template, NEW, new_make_target_and_ci_step)

    update(project, NEW)

    fresh = files(render(template, tmp_path / "fresh", NEW).directory)
    updated = files(project)
    for name, data in edited.items():
        assert updated[name] == data, f"{name}: the team's edit did not survive byte for byte"
    for name, data in fresh.items():
        if name not in {*edited, "Makefile"}:
            assert updated[name] == data, f"{name} differs from the new release's render"
    assert set(updated) == set(fresh) | set(edited)
    assert not [name for name in updated if name.endswith(".rej")]
    # Both changed the Makefile, in different places: the template's new target and the team's.
    assert updated["Makefile"].decode() == fresh["Makefile"].decode() + TEAM_TARGET
    assert "files: ## List the files git tracks" in updated["Makefile"].decode()
    assert b"--durations=10" in updated[".github/workflows/ci.yml"]
    # configs/train.yaml is the team's (_skip_if_exists): the template's comment change stays out.
    assert b"number of folds" in fresh["configs/train.yaml"]
    assert changed_paths(project) == {"Makefile", ".github/workflows/ci.yml", ".copier-answers.yml"}
    assert yaml.safe_load(updated[".copier-answers.yml"])["_commit"] == NEW


# -- 2. a real conflict


@pytest.mark.slow  # runs the render's commit hook from a runner venv
def test_conflict_is_left_inline_in_that_file_only_and_reported(
    template: Path, tmp_path: Path
) -> None:
    release(template, OLD)
    project = render(template, tmp_path / "project", OLD).directory
    commit_all(project, "Start from copier-mlops")
    edit(project / "pyproject.toml", "fail_under = 90\n", "fail_under = 95\n")
    commit_all(project, "Team raises the coverage bar")

    def stricter_gate_and_new_target(clone: Path) -> None:
        edit(clone / "template" / "pyproject.toml.jinja", "fail_under = 90\n", "fail_under = 92\n")
        new_make_target_and_ci_step(clone)

    release(template, NEW, stricter_gate_and_new_target)
    venv = runner_venv(project, interpreter_for("3.11"))  # pyproject parses only before the update

    completed = make_update(project, NEW)

    assert completed.returncode != 0, completed.stdout + completed.stderr
    assert "conflicts to resolve" in completed.stderr
    assert "  pyproject.toml\n" in completed.stderr
    assert with_conflict_markers(project) == {"pyproject.toml"}
    pyproject = (project / "pyproject.toml").read_text()
    assert re.search(
        r"^<<<<<<< before updating\nfail_under = 95\n=======\nfail_under = 92\n"
        r">>>>>>> after updating$",
        pyproject,
        flags=re.M,
    ), pyproject
    fresh = files(render(template, tmp_path / "fresh", NEW).directory)
    updated = files(project)
    for name, data in fresh.items():
        if name not in {"pyproject.toml", "configs/train.yaml"}:  # the team's: kept as it was
            assert updated[name] == data, f"{name} differs from the new release's render"
    assert changed_paths(project) == {
        "pyproject.toml",
        "Makefile",
        ".github/workflows/ci.yml",
        ".copier-answers.yml",
    }
    assert not [name for name in updated if name.endswith(".rej")]
    # The commit hook refuses the markers, although no git merge is in progress.
    config = yaml.safe_load(updated[".pre-commit-config.yaml"])
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    program, *arguments = hooks["check-merge-conflict"]["entry"].split()
    hook = subprocess.run(
        [str(venv / "bin" / Path(program).name), *arguments, "pyproject.toml", "Makefile"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert hook.returncode == 1
    assert "pyproject.toml:" in hook.stdout
    assert "Makefile" not in hook.stdout


# -- 3. answers change on update

# The answers of these tests' renders (defaults but the regression task).
ANSWERS = {
    "project_name": "My MLOps Project",
    "project_slug": "my-mlops-project",
    "package_name": "my_mlops_project",
    "license": "MIT",
    "model_task": "regression",
    "python_version": "3.11",
    "ci": "github",
    "tracking": "mlflow",
}
# The files only `docker: true` renders hold (the image, the deploy tree, their docs and tests).
DOCKER_FILES = expected_files(ANSWERS | {"docker": True}) - expected_files(
    ANSWERS | {"docker": False}
)
# The files only `tracking: mlflow` renders hold (code, docs, tests, the overlays' model pins).
TRACKING_FILES = expected_files(ANSWERS | {"docker": True}) - expected_files(
    ANSWERS | {"docker": True, "tracking": "none"}
)


@pytest.mark.parametrize(
    ("start", "change", "appear", "disappear"),
    [
        ({"docker": True}, {"docker": False}, set(), DOCKER_FILES),
        ({"docker": False}, {"docker": True}, DOCKER_FILES, set()),
        ({"tracking": "mlflow"}, {"tracking": "none"}, set(), TRACKING_FILES),
        (
            {"ci": "github"},
            {"ci": "gitlab"},
            {".gitlab-ci.yml"},
            GITHUB_FILES,
        ),
        ({"ci": "gitlab"}, {"ci": "none"}, set(), {".gitlab-ci.yml"}),
    ],
    ids=["docker-off", "docker-on", "tracking-off", "github-to-gitlab", "gitlab-to-none"],
)
def test_changing_an_answer_adds_and_removes_exactly_its_files(
    template: Path,
    tmp_path: Path,
    start: dict[str, object],
    change: dict[str, object],
    appear: set[str],
    disappear: set[str],
) -> None:
    release(template, OLD)
    answers = {"model_task": "regression", **start}
    project = render(template, tmp_path / "project", OLD, **answers).directory
    commit_all(project, "Start from copier-mlops")
    add_team_target(project)
    commit_all(project, "Team edit")
    before = files(project)

    update(project, OLD, data=change)

    after = files(project)
    expected = files(render(template, tmp_path / "fresh", OLD, **(answers | change)).directory)
    assert set(after) - set(before) == appear
    assert set(before) - set(after) == disappear
    assert after["Makefile"].decode() == expected["Makefile"].decode() + TEAM_TARGET
    # The lock is the team's (_skip_if_exists): `make install` re-locks the changed requirements.
    assert after["uv.lock"] == before["uv.lock"]
    for name, data in expected.items():
        if name not in {"Makefile", "uv.lock"}:
            assert after[name] == data, f"{name} differs from a fresh render with the new answers"
    differing = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert changed_paths(project) == differing
    assert not with_conflict_markers(project)
    for kept_out in ("mlflow.db", "mlruns/1/meta.yaml", "data/train.csv", "models/latest.json"):
        git(project, "check-ignore", "--quiet", kept_out)  # whatever the answers: never committed


def test_make_update_refuses_to_delete_files_the_team_changed_until_forced(
    template: Path, tmp_path: Path
) -> None:
    release(template, OLD)
    project = render(template, tmp_path / "project", OLD, docker=True).directory
    commit_all(project, "Start from copier-mlops")
    (project / "Dockerfile").write_text((project / "Dockerfile").read_text() + "# team layer\n")
    pinned = project / "deploy" / "k8s" / "overlays" / "prod" / "model.env"
    pinned.write_text("MODEL_SERVER_MODEL_URI=models:/churn/7\n")
    commit_all(project, "Team edits")
    before = files(project)

    refused = make_update(project, OLD, extra="--data docker=false")

    assert refused.returncode != 0
    listed = refused.stderr.split("delete files you changed:\n")[1].split("Keep a copy")[0]
    assert listed.split() == ["Dockerfile", "deploy/k8s/overlays/prod/model.env"], refused.stderr
    assert "make update FORCE=1" in refused.stderr
    assert files(project) == before
    assert len(git(project, "worktree", "list").splitlines()) == 1, "the preview is removed"

    forced = make_update(project, OLD, extra="--data docker=false", force=True)

    assert forced.returncode == 0, forced.stderr
    assert not (project / "Dockerfile").exists()
    assert not pinned.exists()
    assert "docker: false" in (project / ".copier-answers.yml").read_text()


def test_make_update_names_an_invalid_answer_in_one_line(template: Path, tmp_path: Path) -> None:
    release(template, OLD)
    project = render(template, tmp_path / "project", OLD).directory
    edit(project / ".copier-answers.yml", "tracking: mlflow", "tracking: nonsense")
    commit_all(project, "A hand-edited answer")
    before = files(project)

    completed = make_update(project, OLD)

    assert completed.returncode != 0
    ours, *rest = completed.stderr.strip().splitlines()
    assert ours == (
        "make update: copier refused the update: Invalid choice for 'tracking': 'nonsense' is "
        "not in ['mlflow', 'none'] (fix the answer in .copier-answers.yml or in UPDATE_ARGS)"
    )
    assert [line for line in rest if not re.match(r"make(\[\d+\])?: \*\*\*", line)] == [], (
        completed.stderr
    )
    assert files(project) == before


# -- 4. a release that moves a file

MIGRATION = """
  - version: "100.1.0"
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/migrations/carry_moved_file.py",
              "docs/DEVELOPMENT.md", "CONTRIBUTING.md"]"""
TEAM_INTRO = "How we work: every model change gets a second reviewer.\n"
TEAM_SECTION = "\n## Team conventions\n\nTraining data lives in the team bucket.\n"
TEMPLATE_HEADING = ("## Dependencies\n", "## Dependencies and the lock file\n")


def move_development_guide(clone: Path) -> None:
    """Release change: docs/DEVELOPMENT.md becomes CONTRIBUTING.md, with one more change in it."""
    root = clone / "template"
    git(clone, "mv", "template/docs/DEVELOPMENT.md.jinja", "template/CONTRIBUTING.md.jinja")
    edit(root / "CONTRIBUTING.md.jinja", *TEMPLATE_HEADING)
    edit(
        root / "README.md.jinja",
        "[docs/DEVELOPMENT.md](docs/DEVELOPMENT.md)",
        "[CONTRIBUTING.md](CONTRIBUTING.md)",
    )
    config = clone / "copier.yml"
    assert config.read_text().count("\n_migrations:\n") == 1
    config.write_text(config.read_text().replace("\n_migrations:", "\n_migrations:" + MIGRATION))


def team_guide(text: str) -> str:
    """The team's edits to the development guide: a changed intro and a section of its own."""
    return text.replace("# Development\n\n", "# Development\n\n" + TEAM_INTRO, 1) + TEAM_SECTION


def test_moved_file_carries_the_team_version_across_with_trust(
    template: Path, tmp_path: Path
) -> None:
    release(template, OLD)
    project = render(template, tmp_path / "project", OLD).directory
    commit_all(project, "Start from copier-mlops")
    guide = project / "docs" / "DEVELOPMENT.md"
    guide.write_text(team_guide(guide.read_text()))
    commit_all(project, "Team conventions")
    release(template, NEW, move_development_guide)
    before = files(project)

    with pytest.raises(UnsafeTemplateError, match="migrations"):
        update(project, NEW)
    assert files(project) == before
    assert not changed_paths(project)

    update(project, NEW, unsafe=True)

    fresh = files(render(template, tmp_path / "fresh", NEW).directory)
    expected = team_guide(fresh["CONTRIBUTING.md"].decode())
    assert TEMPLATE_HEADING[1] in expected
    assert (project / "CONTRIBUTING.md").read_text() == expected
    assert not guide.exists()
    assert not with_conflict_markers(project)
    assert changed_paths(project) == {
        "docs/DEVELOPMENT.md",
        "CONTRIBUTING.md",
        "README.md",
        ".copier-answers.yml",
    }
    # A new project from the moving release needs no --trust: migrations run only on update.
    assert (tmp_path / "fresh" / "CONTRIBUTING.md").is_file()


def test_moved_file_the_team_never_edited_is_simply_the_new_one(
    template: Path, tmp_path: Path
) -> None:
    release(template, OLD)
    project = render(template, tmp_path / "project", OLD).directory
    commit_all(project, "Start from copier-mlops")
    release(template, NEW, move_development_guide)

    update(project, NEW, unsafe=True)

    fresh = files(render(template, tmp_path / "fresh", NEW).directory)
    assert files(project) == fresh


# -- ownership: the team's data, models and reports


def test_data_models_and_reports_are_never_rendered_or_touched(
    template: Path, tmp_path: Path
) -> None:
    def ship_sample_files(clone: Path) -> None:
        for name in ("data/sample.csv", "models/latest.json", "reports/r.txt", "tests/data/f.csv"):
            path = clone / "template" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("from the template\n")
            # template/.gitignore (the project's) ignores these folders: force them in.
            git(clone, "add", "--force", str(path))

    release(template, OLD)
    project = render(template, tmp_path / "project", OLD).directory
    commit_all(project, "Start from copier-mlops")
    for name in ("data/train.csv", "models/latest.json"):
        (project / name).parent.mkdir()
        (project / name).write_text("the team's\n")
    release(template, NEW, ship_sample_files)

    update(project, NEW)

    assert (project / "data" / "train.csv").read_text() == "the team's\n"
    assert (project / "models" / "latest.json").read_text() == "the team's\n"
    assert not (project / "data" / "sample.csv").exists()
    assert not (project / "reports").exists()
    assert (project / "tests" / "data" / "f.csv").is_file(), "only top-level folders are excluded"


# -- 5. a dirty tree is refused


@pytest.mark.parametrize("dirt", ["modified", "untracked"])
def test_make_update_refuses_a_dirty_tree_and_changes_nothing(tmp_path: Path, dirt: str) -> None:
    project = render(TEMPLATE_ROOT, tmp_path / "project", "HEAD").directory
    commit_all(project, "Start from copier-mlops")
    if dirt == "modified":
        (project / "README.md").write_text("# Work in progress\n")
    else:
        (project / "notes.txt").write_text("half-written idea\n")
    fake_copier = tmp_path / "copier"
    fake_copier.write_text(f"#!/bin/sh\ntouch {tmp_path / 'copier-was-called'}\n")
    fake_copier.chmod(fake_copier.stat().st_mode | stat.S_IXUSR)
    before = files(project)

    completed = make_update(project, "HEAD", copier=fake_copier)

    assert completed.returncode != 0
    assert "refusing to update: the git tree has uncommitted changes" in completed.stderr
    assert "Commit or stash them first" in completed.stderr
    assert not (tmp_path / "copier-was-called").exists()
    assert files(project) == before
