"""Releases from main's history alone: ``tags`` recreates them, ``release X.Y.Z`` cuts one.

A release is the commit that adds its ``## [X.Y.Z] - YYYY-MM-DD`` heading to CHANGELOG.md and sets
``version`` in pyproject.toml. Only the branch is published, never tags, so ``tags`` finds each
heading's commit in history and tags it ``vX.Y.Z``; every clone then has its releases.

    python scripts/release.py tags             # idempotent; run by `make tags`
    python scripts/release.py release 0.3.0    # run by `make release VERSION=0.3.0`

Exits 2 with one line naming the problem when history, CHANGELOG and tags disagree.
"""

import argparse
import datetime
import itertools
import re
import subprocess
import sys
import tomllib
from pathlib import Path

CHANGELOG = Path("CHANGELOG.md")
PYPROJECT = Path("pyproject.toml")
LOCKFILE = Path("uv.lock")
UNRELEASED = "## [Unreleased]"
UNRELEASED_LINE = re.compile(r"^## \[Unreleased\][ \t]*$", re.M)
ANY_HEADING = re.compile(r"^## \[", re.M)
# A PEP 440 release X.Y.Z in ASCII digits without leading zeros (\d would take any Unicode digit).
NUMBER = "(?:0|[1-9][0-9]*)"
VERSION = re.compile(rf"{NUMBER}\.{NUMBER}\.{NUMBER}")
RELEASE_HEADING = re.compile(rf"## \[({VERSION.pattern})\] - [0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}")
TAG = re.compile(rf"v{VERSION.pattern}")


class ReleaseError(Exception):
    """History, CHANGELOG, tags or the working tree do not allow the step."""


def git(*args: str) -> str:
    """Run git in the current directory; return stdout, raise ReleaseError on failure."""
    completed = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {' '.join(completed.stderr.split())}")
    return completed.stdout


def version_key(version: str) -> tuple[int, ...]:
    """``"0.10.1"`` -> ``(0, 10, 1)``."""
    return tuple(int(part) for part in version.split("."))


def released_versions(changelog: str) -> list[str]:
    """Versions with a release heading, newest first; refuses a ``## [`` heading that is neither
    a release nor ``## [Unreleased]``, and an order that does not decrease."""
    versions: list[str] = []
    for number, line in enumerate(changelog.splitlines(), 1):
        heading = RELEASE_HEADING.fullmatch(line.rstrip())
        if heading:
            versions.append(heading[1])
        elif line.startswith("## [") and line.rstrip() != UNRELEASED:
            raise ReleaseError(
                f"CHANGELOG.md line {number}: {line!a} is not a release heading: write "
                f"'## [X.Y.Z] - YYYY-MM-DD' in ASCII digits, or '{UNRELEASED}'"
            )
    for newer, older in itertools.pairwise(versions):
        if version_key(newer) <= version_key(older):
            raise ReleaseError(
                f"CHANGELOG.md lists {newer} above {older}: releases must be newest first"
            )
    return versions


def project_version(pyproject: str) -> str:
    """The ``[project] version`` of a pyproject.toml text."""
    version: str = tomllib.loads(pyproject)["project"]["version"]
    return version


def release_commit(version: str) -> str:
    """The one commit that added the heading of ``version`` and set it in pyproject.toml."""
    heading = f"## [{version}] - "
    commits = git("log", "--format=%H", "--reverse", "-S", heading, "--", str(CHANGELOG)).split()
    if not commits:
        raise ReleaseError(
            f"CHANGELOG.md has a heading for {version}, but no commit in history adds it"
        )
    if len(commits) > 1:
        raise ReleaseError(
            f"the heading of {version} was added or removed by {len(commits)} commits "
            f"({', '.join(c[:8] for c in commits)}): history and CHANGELOG.md disagree; "
            "a release heading is added once and never moved"
        )
    commit = commits[0]
    recorded = project_version(git("show", f"{commit}:{PYPROJECT}"))
    if recorded != version:
        raise ReleaseError(
            f"commit {commit[:8]} adds the heading of {version} but its pyproject.toml says "
            f"version {recorded}: history and CHANGELOG.md disagree"
        )
    return commit


def release_tags() -> dict[str, tuple[str, bool]]:
    """Each release tag, oldest first, with its commit and whether it exists; refuses, changing
    nothing, when history, CHANGELOG.md and the tags disagree."""
    if git("rev-parse", "--is-shallow-repository").strip() == "true":
        raise ReleaseError(
            "this clone is shallow, so release commits may be missing from its history: "
            "run `git fetch --unshallow` (CI: check out with fetch-depth: 0)"
        )
    versions = released_versions(CHANGELOG.read_text())
    commits = {version: release_commit(version) for version in versions}
    for newer, older in itertools.pairwise(versions):
        ancestor = subprocess.run(
            ["git", "merge-base", "--is-ancestor", commits[older], commits[newer]], check=False
        )
        if ancestor.returncode != 0:
            raise ReleaseError(
                f"release {older} ({commits[older][:8]}) is not an ancestor of release {newer} "
                f"({commits[newer][:8]}): history and CHANGELOG.md disagree"
            )
    existing = set(git("tag", "--list", "v*").split())
    strays = sorted(t for t in existing if TAG.fullmatch(t) and t[1:] not in commits)
    if strays:
        raise ReleaseError(
            f"tag {', '.join(strays)} has no release heading in CHANGELOG.md: "
            f"delete it (git tag -d {' '.join(strays)}) or add its release"
        )
    planned: dict[str, tuple[str, bool]] = {}
    for version in reversed(versions):
        tag, commit = f"v{version}", commits[version]
        if tag in existing:
            tagged = git("rev-parse", f"{tag}^{{commit}}").strip()
            if tagged != commit:
                raise ReleaseError(
                    f"tag {tag} points to {tagged[:8]}, but the commit that added its heading "
                    f"is {commit[:8]}: delete the tag (git tag -d {tag}) and run make tags again"
                )
        planned[tag] = (commit, tag in existing)
    return planned


def ensure_tags() -> list[str]:
    """Create every missing ``vX.Y.Z`` tag on its release commit; returns what it did, per tag."""
    done = []
    for tag, (commit, present) in release_tags().items():
        if not present:
            git("tag", tag, commit)
        done.append(f"{tag} {commit[:8]} ({'present' if present else 'created'})")
    return done


def unreleased_heading(changelog: str) -> re.Match[str]:
    """The one ``## [Unreleased]`` heading line (trailing whitespace allowed)."""
    headings = list(UNRELEASED_LINE.finditer(changelog))
    if len(headings) != 1:
        raise ReleaseError(
            f"CHANGELOG.md needs exactly one '{UNRELEASED}' heading line, with the entries to "
            f"release under it; it has {len(headings)}"
        )
    return headings[0]


def unreleased_entries(changelog: str) -> str:
    """The text between ``## [Unreleased]`` and the next release heading."""
    body_start = unreleased_heading(changelog).end()
    following = ANY_HEADING.search(changelog, body_start)
    return changelog[body_start : following.start() if following else len(changelog)]


def with_release(changelog: str, version: str, date: str, previous: str | None) -> str:
    """CHANGELOG text with the unreleased entries moved under the heading of ``version``."""
    heading = unreleased_heading(changelog)
    text = (
        f"{changelog[: heading.start()]}{UNRELEASED}\n\n## [{version}] - {date}"
        f"{changelog[heading.end() :]}"
    )
    link = re.search(r"^\[Unreleased\]: (\S+)/compare/v\S+\.\.\.HEAD$", text, re.M)
    if link and previous:
        base = link.group(1)
        text = text.replace(
            link.group(0),
            f"[Unreleased]: {base}/compare/v{version}...HEAD\n"
            f"[{version}]: {base}/compare/v{previous}...v{version}",
        )
    return text


def with_project_version(pyproject: str, version: str) -> str:
    """pyproject.toml text with ``[project] version`` set, read back with tomllib to be sure."""
    table = re.search(r"^\[project\][ \t]*$.*?(?=^\[|\Z)", pyproject, re.M | re.S)
    value = re.compile(r"""^(version[ \t]*=[ \t]*)(["'])[^"'\n]*\2(?=[ \t]*(?:#.*)?$)""", re.M)
    text = pyproject
    if table:
        section = value.sub(rf"\g<1>\g<2>{version}\g<2>", table[0], count=1)
        text = f"{pyproject[: table.start()]}{section}{pyproject[table.end() :]}"
    try:
        written = project_version(text)
    except (KeyError, tomllib.TOMLDecodeError):
        written = None
    if written != version:
        raise ReleaseError(
            "cannot set the version in pyproject.toml: write it on one line of its [project] "
            'table, as version = "X.Y.Z"'
        )
    return text


def with_lock_version(lock: str, name: str, version: str) -> str:
    """uv.lock text with the version of this project's entry set, read back with tomllib."""
    name = re.sub(r"[-_.]+", "-", name).lower()  # uv writes normalized names
    entry = re.compile(rf'(\[\[package\]\]\nname = "{re.escape(name)}"\nversion = )"[^"]*"')
    text = entry.sub(rf'\g<1>"{version}"', lock, count=1)
    packages = tomllib.loads(text).get("package", [])
    if any(p.get("name") == name and p.get("version") != version for p in packages):
        raise ReleaseError(
            f"cannot set the version of {name} in uv.lock: run `uv lock`, commit it, release again"
        )
    return text


def release_files(version: str, date: str) -> dict[Path, str]:
    """The new text of each release file, every check done: nothing is written yet."""
    changelog = CHANGELOG.read_text()
    versions = released_versions(changelog)
    newest = versions[0] if versions else None
    if newest and version_key(version) <= version_key(newest):
        raise ReleaseError(
            f"version {version} does not increase on the newest release {newest}: "
            "choose a higher X.Y.Z (minor for features, patch for fixes)"
        )
    if not unreleased_entries(changelog).strip():
        raise ReleaseError(
            f"the '{UNRELEASED}' section of CHANGELOG.md is empty: nothing to release"
        )
    heading = f"## [{version}] - "
    if git("log", "--format=%H", "-S", heading, "--", str(CHANGELOG)).strip():
        raise ReleaseError(
            f"history already adds or removes a heading of {version}: choose a higher X.Y.Z"
        )
    released = with_release(changelog, version, date, newest)
    if released_versions(released) != [version, *versions] or unreleased_entries(released).strip():
        raise ReleaseError(f"cannot move the '{UNRELEASED}' entries under {heading}{date}")
    pyproject = PYPROJECT.read_text()
    files = {CHANGELOG: released, PYPROJECT: with_project_version(pyproject, version)}
    if LOCKFILE.exists():
        name = tomllib.loads(pyproject)["project"]["name"]
        files[LOCKFILE] = with_lock_version(LOCKFILE.read_text(), name, version)
    return files


def cut_release(version: str) -> str:
    """Check everything, then move the unreleased entries under ``version``, commit and tag.

    Nothing is written before every check passed, so a refusal leaves the repository as it was.
    """
    if not VERSION.fullmatch(version):
        raise ReleaseError(
            f"VERSION={version!a} is not a release version: use X.Y.Z with ASCII digits 0-9 "
            "and no leading zeros, e.g. 0.3.0"
        )
    dirty = git("status", "--porcelain", "--untracked-files=all").splitlines()
    if dirty:
        listed = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise ReleaseError(
            f"refusing to release: the git tree has uncommitted changes ({listed}): commit or "
            "stash them first, so the release commit holds only the release"
        )
    for identity in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        if subprocess.run(["git", "var", identity], capture_output=True, check=False).returncode:
            raise ReleaseError(
                "git has no identity to commit the release with: set git config user.name "
                "and user.email"
            )
    release_tags()
    date = datetime.datetime.now(datetime.UTC).date().isoformat()
    files = release_files(version, date)
    head = git("rev-parse", "HEAD").strip()
    try:
        for path, text in files.items():
            path.write_text(text)
        git("add", "--", *map(str, files))
        git("commit", "--quiet", "--no-verify", "-m", f"Release {version}")
        ensure_tags()
    except BaseException:
        git("reset", "--quiet", "--hard", head)  # the tree was clean: back to where it was
        raise
    return f"v{version}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit 2 with one clear message on refusal."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("tags", help="recreate missing vX.Y.Z tags from CHANGELOG.md and history")
    cut = commands.add_parser("release", help="cut release X.Y.Z from the [Unreleased] entries")
    cut.add_argument("version")
    args = parser.parse_args(argv)
    try:
        if args.command == "tags":
            for line in ensure_tags():
                print(f"release tag {line}")
        else:
            tag = cut_release(args.version)
            print(f"released {tag}: push main; `make tags` recreates the tag in every clone")
    except ReleaseError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 2
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        print(
            f"{args.command}: cannot read the release files ({error!r}): run it at the root "
            "of the template repository",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
