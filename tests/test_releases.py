"""The release routine: `make release` cuts a release commit, `make tags` recreates its tag.

Each test works in its own clone of this repository, so the real tags and history stay untouched.
"""

import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import ENV, clone_template, files, git
from runners import run

# The commit that added the 0.1.0 heading, before `make tags` existed: a fixed fact of history.
V0_1_0 = "a113dd2d4895997a9abee54a9b1fcf44a291fa11"
# "1.0.0" in full-width digits, which a version must not accept.
FULL_WIDTH = "\uff11.\uff10.\uff10"
HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", re.M)


def make(repo: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    """The template's make target in ``repo``, which must exit with ``expect``."""
    command = ["make", "--no-print-directory", *args, f"PYTHON={sys.executable}"]
    return run(command, cwd=repo, env=ENV, timeout=120, expect=expect)


def tags(repo: Path) -> dict[str, str]:
    """Release tags of ``repo`` and the commits they point to."""
    listed = git(repo, "tag", "--list", "v*", "--format=%(refname:short) %(objectname)")
    return dict(line.split() for line in listed.splitlines())


def releases(repo: Path) -> list[str]:
    """Versions with a release heading in ``repo``'s CHANGELOG.md, newest first."""
    return HEADING.findall((repo / "CHANGELOG.md").read_text())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clone of this repository without release tags, its working tree committed."""
    clone = clone_template(tmp_path / "repo")
    for tag in tags(clone):
        git(clone, "tag", "--delete", tag)
    return clone


def add_unreleased_entry(repo: Path, entry: str) -> None:
    """Commit one entry under ``## [Unreleased]``, as a change that ships would."""
    changelog = repo / "CHANGELOG.md"
    text = changelog.read_text().replace("## [Unreleased]\n", f"## [Unreleased]\n\n{entry}\n", 1)
    changelog.write_text(text)
    git(repo, "commit", "--quiet", "--no-verify", "-am", "A change that ships")


def with_empty_unreleased(repo: Path) -> None:
    """Commit a CHANGELOG whose ``## [Unreleased]`` section holds nothing (as after a release)."""
    changelog = repo / "CHANGELOG.md"
    text = changelog.read_text()
    start = text.index("## [Unreleased]\n") + len("## [Unreleased]\n")
    following = text.index("\n## [", start)
    changelog.write_text(text[:start] + text[following:])
    git(repo, "commit", "--quiet", "--no-verify", "--allow-empty", "-am", "Nothing to release")


def next_minor(version: str) -> str:
    major, minor, _ = version.split(".")
    return f"{major}.{int(minor) + 1}.0"


def state(repo: Path) -> tuple[str, str, str, dict[str, bytes]]:
    """HEAD, every ref and what it points to, the tree's status and every file's bytes."""
    head = git(repo, "rev-parse", "HEAD")
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    return head, refs, git(repo, "status", "--porcelain", "--untracked-files=all"), files(repo)


def refusal(completed: subprocess.CompletedProcess[str]) -> str:
    """The one line the release tool printed (make's own error line aside)."""
    lines = [line for line in completed.stderr.splitlines() if not line.startswith("make")]
    assert len(lines) == 1, completed.stderr
    return lines[0]


def commit_edit(repo: Path, name: str, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) by ``new`` in ``name`` and commit it."""
    path = repo / name
    assert old in path.read_text(), old
    path.write_text(path.read_text().replace(old, new, 1))
    git(repo, "commit", "--quiet", "--no-verify", "-am", f"Edit {name}")


def with_entry(repo: Path) -> None:
    """An entry under ``## [Unreleased]``, so that only the case under test is wrong."""
    add_unreleased_entry(repo, "### Fixed\n\n- A fix.")


def with_triple_quoted_version(repo: Path) -> None:
    """A valid pyproject.toml whose version the release tool cannot rewrite in place."""
    with_entry(repo)
    newest = releases(repo)[0]
    commit_edit(repo, "pyproject.toml", f'version = "{newest}"', f'version = """{newest}"""')


def with_two_unreleased_headings(repo: Path) -> None:
    """Two ``## [Unreleased]`` headings: which one the entries belong to is anyone's guess."""
    with_entry(repo)
    commit_edit(repo, "CHANGELOG.md", "## [Unreleased]\n", "## [Unreleased]\n\n## [Unreleased]\n")


def test_tags_recreates_every_release_on_the_commit_that_added_its_heading(repo: Path) -> None:
    completed = make(repo, "tags")

    versions = releases(repo)
    assert {"0.1.0", "0.2.0"} <= set(versions)
    created = tags(repo)
    assert set(created) == {f"v{version}" for version in versions}
    assert created["v0.1.0"] == V0_1_0
    for version in versions:
        commit = created[f"v{version}"]
        heading = f"## [{version}] - "
        assert heading in git(repo, "show", f"{commit}:CHANGELOG.md")
        assert heading not in git(repo, "show", f"{commit}^:CHANGELOG.md")
        pyproject = tomllib.loads(git(repo, "show", f"{commit}:pyproject.toml"))
        assert pyproject["project"]["version"] == version
        assert f"v{version} {commit[:8]} (created)" in completed.stdout

    again = make(repo, "tags")

    assert tags(repo) == created
    assert "(created)" not in again.stdout
    assert again.stdout.count("(present)") == len(versions)


def test_tags_refuses_a_tag_that_points_elsewhere(repo: Path) -> None:
    git(repo, "tag", "v0.1.0", "HEAD")

    completed = make(repo, "tags", expect=2)

    assert "tag v0.1.0 points to" in completed.stderr
    assert f"the commit that added its heading is {V0_1_0[:8]}" in completed.stderr
    assert "git tag -d v0.1.0" in completed.stderr
    assert set(tags(repo)) == {"v0.1.0"}, "nothing else is tagged after a refusal"


def test_tags_refuses_a_stray_release_tag(repo: Path) -> None:
    git(repo, "tag", "v9.9.9", "HEAD")

    completed = make(repo, "tags", expect=2)

    assert "tag v9.9.9 has no release heading in CHANGELOG.md" in completed.stderr


def test_tags_refuses_a_heading_whose_commit_did_not_set_the_version(repo: Path) -> None:
    changelog = repo / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace(
            "## [Unreleased]\n", "## [Unreleased]\n\n## [9.0.0] - 2026-12-01\n\n- Hand-made.\n", 1
        )
    )
    git(repo, "commit", "--quiet", "--no-verify", "-am", "A heading added by hand")

    completed = make(repo, "tags", expect=2)

    assert "adds the heading of 9.0.0 but its pyproject.toml says version" in completed.stderr
    assert not tags(repo)


def test_tags_refuses_a_shallow_clone(repo: Path, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth", "1", repo.as_uri(), str(shallow))

    completed = make(shallow, "tags", expect=2)

    assert "this clone is shallow" in completed.stderr
    assert "git fetch --unshallow" in completed.stderr


def test_release_moves_the_unreleased_entries_commits_and_tags(repo: Path) -> None:
    newest = releases(repo)[0]
    version = next_minor(newest)
    add_unreleased_entry(repo, "### Added\n\n- A feature worth a release.")
    before = git(repo, "rev-parse", "HEAD").strip()

    completed = make(repo, "release", f"VERSION={version}")

    assert f"released v{version}" in completed.stdout
    assert git(repo, "log", "-1", "--format=%s").strip() == f"Release {version}"
    assert git(repo, "rev-parse", "HEAD^").strip() == before
    committed = set(git(repo, "show", "--name-only", "--format=", "HEAD").split())
    assert committed == {"CHANGELOG.md", "pyproject.toml", "uv.lock"}
    assert not git(repo, "status", "--porcelain")
    assert tags(repo)[f"v{version}"] == git(repo, "rev-parse", "HEAD").strip()
    changelog = (repo / "CHANGELOG.md").read_text()
    assert re.search(
        rf"^## \[Unreleased\]\n\n## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}\n\n"
        r"### Added\n\n- A feature worth a release\.\n",
        changelog,
        re.M,
    ), changelog
    assert f"/compare/v{version}...HEAD\n" in changelog
    assert f"[{version}]: " in changelog
    assert f"/compare/v{newest}...v{version}\n" in changelog
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == version
    lock = tomllib.loads((repo / "uv.lock").read_text())
    (entry,) = [p for p in lock["package"] if p["name"] == pyproject["project"]["name"]]
    assert entry["version"] == version

    patch = version.rsplit(".", 1)[0] + ".1"
    empty = make(repo, "release", f"VERSION={patch}", expect=2)

    assert "the '## [Unreleased]' section of CHANGELOG.md is empty" in empty.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == f"Release {version}"


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("0.2.0", "does not increase on the newest release"),
        ("1.0", "is not a release version: use X.Y.Z"),
        ("", "give the version, e.g. make release VERSION="),
    ],
    ids=["lower", "malformed", "missing"],
)
def test_release_refuses_a_bad_version(repo: Path, version: str, message: str) -> None:
    add_unreleased_entry(repo, "### Fixed\n\n- A fix.")
    head = git(repo, "rev-parse", "HEAD").strip()

    completed = make(repo, "release", f"VERSION={version}", expect=2)

    assert message in completed.stderr
    assert git(repo, "rev-parse", "HEAD").strip() == head


def test_release_refuses_the_newest_version_again(repo: Path) -> None:
    add_unreleased_entry(repo, "### Fixed\n\n- A fix.")
    newest = releases(repo)[0]

    completed = make(repo, "release", f"VERSION={newest}", expect=2)

    assert f"version {newest} does not increase on the newest release {newest}" in completed.stderr


def test_release_refuses_a_dirty_tree_and_changes_nothing(repo: Path) -> None:
    add_unreleased_entry(repo, "### Fixed\n\n- A fix.")
    (repo / "notes.txt").write_text("half-written idea\n")
    changelog = (repo / "CHANGELOG.md").read_bytes()
    head = git(repo, "rev-parse", "HEAD").strip()

    completed = make(repo, "release", f"VERSION={next_minor(releases(repo)[0])}", expect=2)

    assert "refusing to release: the git tree has uncommitted changes" in completed.stderr
    assert "?? notes.txt" in completed.stderr
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert (repo / "CHANGELOG.md").read_bytes() == changelog
    assert not tags(repo)


def test_release_sets_a_single_quoted_version_and_tags_it(repo: Path) -> None:
    newest = releases(repo)[0]
    version = next_minor(newest)
    commit_edit(repo, "pyproject.toml", f'version = "{newest}"', f"version = '{newest}'")
    with_entry(repo)

    make(repo, "release", f"VERSION={version}")

    assert f"version = '{version}'\n" in (repo / "pyproject.toml").read_text()
    assert tags(repo)[f"v{version}"] == git(repo, "rev-parse", "HEAD").strip()
    assert f"v{version} " in make(repo, "tags").stdout


def test_release_reads_an_unreleased_heading_with_trailing_whitespace(repo: Path) -> None:
    version = next_minor(releases(repo)[0])
    with_entry(repo)
    commit_edit(repo, "CHANGELOG.md", "## [Unreleased]\n", "## [Unreleased] \t\n")

    make(repo, "release", f"VERSION={version}")

    changelog = (repo / "CHANGELOG.md").read_text()
    assert re.search(
        rf"^## \[Unreleased\]\n\n## \[{re.escape(version)}\] - .*\n\n### Fixed\n", changelog, re.M
    )
    assert releases(repo)[0] == version
    assert tags(repo)[f"v{version}"] == git(repo, "rev-parse", "HEAD").strip()


NOT_A_VERSION = "is not a release version: use X.Y.Z with ASCII digits 0-9"


@pytest.mark.parametrize(
    ("version", "prepare", "message"),
    [
        (FULL_WIDTH, with_entry, NOT_A_VERSION),
        ("01.0.0", with_entry, NOT_A_VERSION),
        ("v1.0.0", with_entry, NOT_A_VERSION),
        ("0.2.0", with_entry, "does not increase on the newest release"),
        ("1.0.0", with_empty_unreleased, "the '## [Unreleased]' section of CHANGELOG.md is empty"),
        ("1.0.0", with_triple_quoted_version, "cannot set the version in pyproject.toml"),
        ("1.0.0", with_two_unreleased_headings, "needs exactly one '## [Unreleased]' heading"),
    ],
    ids=["full-width", "leading-zero", "v-prefix", "lower", "empty", "pyproject", "two-heads"],
)
def test_a_refused_release_leaves_the_repository_as_it_was(
    repo: Path, version: str, prepare: Callable[[Path], None], message: str
) -> None:
    prepare(repo)
    before = state(repo)

    completed = make(repo, "release", f"VERSION={version}", expect=2)

    assert message in refusal(completed)
    assert state(repo) == before
    assert not tags(repo)


def test_tags_refuses_a_heading_it_cannot_read(repo: Path) -> None:
    heading = f"## [{FULL_WIDTH}] - 2026-12-01"
    commit_edit(repo, "CHANGELOG.md", "## [Unreleased]\n", f"## [Unreleased]\n\n{heading}\n")
    line = (repo / "CHANGELOG.md").read_text().splitlines().index(heading) + 1

    completed = make(repo, "tags", expect=2)

    assert f"CHANGELOG.md line {line}: {heading!a} is not a release heading" in refusal(completed)
    assert not tags(repo)
