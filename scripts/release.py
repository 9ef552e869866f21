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
RELEASE_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", re.M)
ANY_HEADING = re.compile(r"^## \[", re.M)
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
TAG = re.compile(r"^v\d+\.\d+\.\d+$")


class ReleaseError(Exception):
    """History, CHANGELOG, tags or the working tree do not allow the step."""


def git(*args: str) -> str:
    """Run git in the current directory; return stdout, raise ReleaseError on failure."""
    completed = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {completed.stderr.strip()}")
    return completed.stdout


def version_key(version: str) -> tuple[int, ...]:
    """``"0.10.1"`` -> ``(0, 10, 1)``."""
    return tuple(int(part) for part in version.split("."))


def released_versions(changelog: str) -> list[str]:
    """Versions with a release heading, newest first; refuses an order that does not decrease."""
    versions = RELEASE_HEADING.findall(changelog)
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


def ensure_tags() -> list[str]:
    """Create every missing ``vX.Y.Z`` tag on its release commit; returns what it did, per tag."""
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
    strays = sorted(t for t in existing if TAG.match(t) and t[1:] not in commits)
    if strays:
        raise ReleaseError(
            f"tag {', '.join(strays)} has no release heading in CHANGELOG.md: "
            f"delete it (git tag -d {' '.join(strays)}) or add its release"
        )
    done = []
    for version in reversed(versions):
        tag, commit = f"v{version}", commits[version]
        if tag in existing:
            tagged = git("rev-parse", f"{tag}^{{commit}}").strip()
            if tagged != commit:
                raise ReleaseError(
                    f"tag {tag} points to {tagged[:8]}, but the commit that added its heading "
                    f"is {commit[:8]}: delete the tag (git tag -d {tag}) and run make tags again"
                )
            done.append(f"{tag} {commit[:8]} (present)")
        else:
            git("tag", tag, commit)
            done.append(f"{tag} {commit[:8]} (created)")
    return done


def unreleased_entries(changelog: str) -> str:
    """The text between ``## [Unreleased]`` and the next release heading."""
    start = changelog.find(UNRELEASED)
    if start < 0:
        raise ReleaseError(f"CHANGELOG.md has no '{UNRELEASED}' section")
    body_start = start + len(UNRELEASED)
    following = ANY_HEADING.search(changelog, body_start)
    return changelog[body_start : following.start() if following else len(changelog)]


def with_release(changelog: str, version: str, date: str, previous: str | None) -> str:
    """CHANGELOG text with the unreleased entries moved under the heading of ``version``."""
    text = changelog.replace(f"{UNRELEASED}\n", f"{UNRELEASED}\n\n## [{version}] - {date}\n", 1)
    link = re.search(r"^\[Unreleased\]: (\S+)/compare/v\S+\.\.\.HEAD$", text, re.M)
    if link and previous:
        base = link.group(1)
        text = text.replace(
            link.group(0),
            f"[Unreleased]: {base}/compare/v{version}...HEAD\n"
            f"[{version}]: {base}/compare/v{previous}...v{version}",
        )
    return text


def set_versions(version: str) -> list[Path]:
    """Set ``version`` in pyproject.toml and in the lock's entry of this project."""
    pyproject = PYPROJECT.read_text()
    name = tomllib.loads(pyproject)["project"]["name"]
    version_line = re.compile(r'^version = "[^"]*"$', re.M)
    PYPROJECT.write_text(version_line.sub(f'version = "{version}"', pyproject, count=1))
    changed = [PYPROJECT]
    if LOCKFILE.exists():
        lock = LOCKFILE.read_text()
        entry = re.compile(rf'(\[\[package\]\]\nname = "{re.escape(name)}"\nversion = )"[^"]*"')
        LOCKFILE.write_text(entry.sub(rf'\g<1>"{version}"', lock, 1))
        changed.append(LOCKFILE)
    return changed


def cut_release(version: str) -> str:
    """Move the unreleased entries under ``version``, commit, tag; returns the new tag."""
    if not VERSION.match(version):
        raise ReleaseError(f"VERSION={version!r} is not a release version: use X.Y.Z, e.g. 0.3.0")
    dirty = git("status", "--porcelain", "--untracked-files=all")
    if dirty:
        raise ReleaseError(
            "refusing to release: the git tree has uncommitted changes:\n"
            + dirty.rstrip()
            + "\ncommit or stash them first, so the release commit holds only the release"
        )
    ensure_tags()
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
    date = datetime.datetime.now(datetime.UTC).date().isoformat()
    CHANGELOG.write_text(with_release(changelog, version, date, newest))
    changed = [CHANGELOG, *set_versions(version)]
    git("add", "--", *map(str, changed))
    git("commit", "--quiet", "--no-verify", "-m", f"Release {version}")
    ensure_tags()
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
