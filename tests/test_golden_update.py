"""Golden update test: a team's project from every release updates to HEAD and keeps its edits.

For each release heading in CHANGELOG.md (tagged by `make tags`), a project rendered from that
release with fixed answers gets the edits a team typically makes, plus one conflict on purpose
where the template changed a line since; then it is updated to HEAD as a team does it (`make
update`, or `copier update` for releases that predate it). Every template-managed file must equal
a fresh render of HEAD plus exactly the team's edits and the team's configs stay byte for byte.
Projects updated from releases that shipped the same configs are then identical, and those of
different generations of configs differ in the team's configs only: the pipeline on the team's
configs runs once per generation and `make check` once, on the newest release's (slow tier).
New releases join by themselves.
"""

import difflib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lifecycle import (
    COPIER,
    ENV,
    clone_template,
    commit_all,
    files,
    git,
    make,
    make_update,
    take_template_side,
    team_module,
    with_conflict_markers,
)
from rendering import MLFLOW_CODE, TEMPLATE_ROOT, render
from runners import cutoff, run, uv_command, version_key

RELEASES = re.findall(
    r"^## \[(\d+\.\d+\.\d+)\] - ", (TEMPLATE_ROOT / "CHANGELOG.md").read_text(), re.M
)
ANSWERS = {"project_name": "Golden Path"}
PACKAGE = "golden_path"
ANSWERS_FILE = ".copier-answers.yml"


@dataclass(frozen=True)
class Edit:
    """A team's change to one file: ``old`` (found exactly once) becomes ``new``."""

    path: str
    old: str
    new: str

    def apply(self, text: str) -> str:
        assert text.count(self.old) == 1, f"{self.path}: expected exactly one {self.old!r}"
        return text.replace(self.old, self.new)


# Edits of template-managed files: the update must keep them on top of HEAD's version.
MANAGED_EDITS = [
    Edit(
        "README.md",
        "## Quick start\n",
        "## Quick start\n\nAsk #ml-platform before changing the quality gate.\n",
    ),
    Edit(  # a target of the team's own, appended after the last one
        "Makefile",
        " -exec rm -rf {} +\n",
        " -exec rm -rf {} +\n\n.PHONY: retrain\n"
        "retrain: ## Refresh the data and retrain (the team's own target)\n\t$(MAKE) data train\n",
    ),
    Edit(f"src/{PACKAGE}/__init__.py", '__version__ = "0.1.0"', '__version__ = "1.4.0"'),
    Edit(  # a dev tool of the team's: from the dev extra (before 0.8.0) into the dev group
        "pyproject.toml",
        '    "pytest-xdist>=3.6",\n',
        '    "pytest-xdist>=3.6",\n    "types-python-dateutil>=2.9",\n',
    ),
]
# Edits of team-owned files (never overwritten): they must stay exactly as the team left them.
OWNED_EDITS = [
    Edit("configs/train.yaml", "seed: 42 ", "seed: 7 "),
    Edit("configs/train.yaml", "C: 1.0", "C: 0.5"),  # flat or per-estimator params
    Edit("configs/monitoring.yaml", "  breaches: 1 ", "  breaches: 2 "),
    Edit("configs/monitoring.yaml", "  windows: 1\n", "  windows: 3\n"),
]
# An edit inside a module that release 0.4.0 merged into another (quality_gate.py into
# training.py): that release's migration (migrations/0.4.0.yml) carries it into the merged module.
# Projects from 0.4.0 on make the same edit where the code lives now.
MOVED_EDITS = {
    f"src/{PACKAGE}/core/training.py": Edit(
        f"src/{PACKAGE}/core/quality_gate.py",
        "    failures = []\n",
        "    failures = []  # bounds agreed with the risk team (RISK-42)\n",
    ),
}
NEW_FILES = team_module(PACKAGE)
# What the `tracking` question (default mlflow) brings to a project from a release before it.
TRACKING_FILES = {name.format(package=PACKAGE) for name in MLFLOW_CODE.split()}
TEAM_TOUCHED = (
    {edit.path for edit in [*MANAGED_EDITS, *OWNED_EDITS, *MOVED_EDITS.values()]}
    | set(MOVED_EDITS)
    | set(NEW_FILES)
)


@pytest.fixture(scope="session")
def head_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clone per worker whose HEAD is the working tree, with this repository's tags."""
    return clone_template(tmp_path_factory.mktemp("golden") / "template")


@pytest.fixture(scope="session")
def head_render(head_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Files of a fresh render of HEAD with the golden answers (rendered once per worker)."""
    destination = tmp_path_factory.mktemp("golden") / "fresh"
    return files(render(head_template, destination, "HEAD", **ANSWERS).directory)


def make_team_edits(project: Path) -> dict[str, bytes]:
    """Apply the team's edits and new files to ``project``; returns the team-owned files."""
    for edit in MANAGED_EDITS:
        path = project / edit.path
        path.write_text(edit.apply(path.read_text()))
    for edit in OWNED_EDITS:  # a config a release did not have yet is not the team's
        path = project / edit.path
        if path.exists():
            path.write_text(edit.apply(path.read_text()))
    for home, edit in MOVED_EDITS.items():
        path = project / (edit.path if (project / edit.path).exists() else home)
        path.write_text(edit.apply(path.read_text()))
    for name, text in NEW_FILES.items():
        (project / name).write_text(text)
    owned = {edit.path for edit in OWNED_EDITS if (project / edit.path).exists()}
    return {name: (project / name).read_bytes() for name in owned}


def plant_conflict(project: Path, old: dict[str, bytes], head: dict[str, bytes]) -> str | None:
    """Edit a line of a file the template has changed since ``old``: a conflict on purpose.

    The line is one HEAD replaced or deleted and that appears nowhere else in either version, so
    the team's edit and the template's change meet in the same place. Returns the file, or None
    when no template-managed file changed since the release.
    """
    # `make update` runs scripts/update.py: an edit breaking its syntax would stop the update.
    candidates = set(old) & set(head) - TEAM_TOUCHED - {ANSWERS_FILE, "scripts/update.py"}
    for name in sorted(candidates):
        if old[name] == head[name]:
            continue
        try:
            before = old[name].decode().splitlines(keepends=True)
            after = head[name].decode().splitlines(keepends=True)
        except UnicodeDecodeError:
            continue
        matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
        for operation, first, _, _, _ in matcher.get_opcodes():
            line = before[first] if operation in {"replace", "delete"} else ""
            if line.strip() and before.count(line) == 1 and line not in after:
                before[first] = line.rstrip("\n") + " (changed by the team)\n"
                (project / name).write_text("".join(before))
                return name
    return None


def update_to_head(project: Path, template: Path) -> subprocess.CompletedProcess[str] | None:
    """Update as the team would: `make update` where the release has it, else copier itself.

    ``--trust`` only when HEAD carries migrations (a release that moved a file), as documented.
    """
    trust = ["--trust"] if "\n_migrations:" in (template / "copier.yml").read_text() else []
    if "\nupdate: ##" in (project / "Makefile").read_text():
        return make_update(project, "HEAD", extra=" ".join(trust))
    subprocess.run(
        [str(COPIER), "update", "--defaults", "--vcs-ref", "HEAD", "--quiet", *trust],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return None


def update_with_team_edits(
    version: str, template: Path, head_render: dict[str, bytes], project: Path
) -> None:
    """Render ``version``, make the team's edits, update to HEAD and assert the outcome."""
    tag = f"v{version}"
    assert git(template, "tag", "--list", tag).strip() == tag, (
        f"release {version} is in CHANGELOG.md but has no tag {tag}: run `make tags` first"
    )
    render(template, project, tag, **ANSWERS)
    commit_all(project, f"Start from copier-mlops {tag}")
    released = files(project)
    owned = make_team_edits(project)
    conflict = plant_conflict(project, released, head_render)
    commit_all(project, "Team edits")

    made = update_to_head(project, template)

    updated = files(project)
    assert not [name for name in updated if name.endswith(".rej")]
    assert with_conflict_markers(project) == ({conflict} if conflict else set())
    if made is not None:  # `make update` lists exactly the planted conflict
        listed = re.findall(r"^  (\S+)$", made.stderr, re.M)
        assert (made.returncode != 0) == bool(conflict), made.stdout + made.stderr
        assert listed == ([conflict] if conflict else []), made.stderr
    if conflict:
        take_template_side(project / conflict)
        updated = files(project)
    # A question added since the release takes its default: tracking with MLflow, and its files.
    answered = yaml.safe_load(updated[ANSWERS_FILE])
    assert answered["tracking"] == "mlflow"
    assert set(updated) >= TRACKING_FILES, sorted(TRACKING_FILES - set(updated))
    if "tracking" not in yaml.safe_load(released[ANSWERS_FILE]):
        assert not TRACKING_FILES & set(released)
    expected = dict(head_render)
    for edit in MANAGED_EDITS:
        expected[edit.path] = edit.apply(expected[edit.path].decode()).encode()
    for home, edit in MOVED_EDITS.items():  # carried into the module it now lives in
        expected[home] = edit.apply(expected[home].decode()).encode()
    expected |= {name: text.encode() for name, text in NEW_FILES.items()} | owned
    if "uv.lock" in released:  # the team's since the first render (_skip_if_exists): kept as is
        expected["uv.lock"] = released["uv.lock"]
    assert sorted(set(updated) - set(expected)) == [], "files the update should not have left"
    assert sorted(set(expected) - set(updated)) == [], "files the update should have written"
    for name, data in expected.items():
        assert updated[name] == data, f"{name}: not HEAD's render plus exactly the team's edits"


def config_generations(releases: list[str]) -> list[str]:
    """The newest release of each distinct version of the template's team-owned configs.

    An update leaves HEAD's render plus the team's edits and its own configs (asserted for every
    release above), so projects from releases that shipped the same configs end up identical,
    byte for byte: checking one of them checks them all. A release without a tag stands alone.
    """
    newest: dict[str, str] = {}
    for version in sorted(releases, key=version_key, reverse=True):
        listed = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"v{version}:template/configs"],
            cwd=TEMPLATE_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        newest.setdefault(listed.stdout.strip() if listed.returncode == 0 else version, version)
    return sorted(newest.values(), key=version_key)


@pytest.mark.parametrize("version", RELEASES)
def test_project_from_release_updates_to_head_with_team_edits(
    version: str, head_template: Path, head_render: dict[str, bytes], tmp_path: Path
) -> None:
    update_with_team_edits(version, head_template, head_render, tmp_path / "project")


@pytest.mark.slow
@pytest.mark.parametrize("version", config_generations(RELEASES))
def test_updated_project_passes_check_and_runs_the_team_configs(
    version: str, head_template: Path, head_render: dict[str, bytes], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    update_with_team_edits(version, head_template, head_render, project)
    # The team's uv.lock is kept as it was; `make install` (uv sync) adds what pyproject.toml
    # now requires and moves nothing else. So does this, up to the template's cut-off.
    run([*uv_command(), "lock", "--quiet", "--exclude-newer", cutoff()], cwd=project)
    make(project, "3.11", "data", "train", "monitor")  # the team's configs still work
    if version == max(RELEASES, key=version_key):  # generations differ in the team's configs only
        make(project, "3.11", "check")
