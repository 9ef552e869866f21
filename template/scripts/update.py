"""``make update``: bring in the template's next release (or new answers), losing nothing.

On a clean git tree, the update first runs in a throw-away git worktree of ``HEAD``:

- when copier refuses it (a hand-edited answer it does not allow), one line names the answer;
- every file the update would delete that the team changed since it was generated (an edited
  ``Dockerfile`` when ``docker`` goes off, a pinned ``model.env``) is listed, and the update stops
  unless ``--force`` (``make update FORCE=1``).

Only then does copier update the project; the files it left with conflicts are listed.

Usage: ``python scripts/update.py [--force] [-- copier update options]``, with the copier command in
the ``COPIER`` environment variable (default: ``copier``).
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ANSWERS_FILE = ".copier-answers.yml"
#: The exception name copier's traceback ends with, before its message.
EXCEPTION_PREFIX = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception): ")
CONFLICT_MARKER = re.compile(rb"^<<<<<<< ", re.MULTILINE)
#: Longest wait for one git or copier run (a template fetched over a slow network included).
TIMEOUT_SECONDS = 900


class UpdateRefusedError(Exception):
    """The update would lose work or cannot run: the message says why and what to do."""


def run(command: list[str], cwd: Path, *, capture: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in ``cwd`` within :data:`TIMEOUT_SECONDS` (output captured unless not)."""
    try:
        return subprocess.run(  # noqa: S603 - git and the team's copier, with our arguments
            command,
            cwd=cwd,
            capture_output=capture,
            text=True,
            check=False,
            timeout=TIMEOUT_SECONDS,
        )
    except FileNotFoundError:
        raise UpdateRefusedError(
            f"{command[0]} not found: install it, or name the copier to use in COPIER"
        ) from None
    except subprocess.TimeoutExpired:
        raise UpdateRefusedError(
            f"{' '.join(command[:2])} did not finish within {TIMEOUT_SECONDS} s"
        ) from None


def git(cwd: Path, *arguments: str) -> str:
    """Standard output of ``git arguments`` in ``cwd``; raise UpdateRefusedError when it fails."""
    done = run(["git", *arguments], cwd)
    if done.returncode != 0:
        raise UpdateRefusedError(f"git {' '.join(arguments)} failed: {done.stderr.strip()}")
    return done.stdout


def require_clean_tree(project: Path) -> None:
    """Refuse a folder that is not a git work tree, or one with uncommitted changes."""
    inside = run(["git", "rev-parse", "--is-inside-work-tree"], project)
    if inside.returncode != 0:
        raise UpdateRefusedError("not a git repository: copier update merges into committed work")
    status = git(project, "status", "--porcelain")
    if status.strip():
        raise UpdateRefusedError(
            "refusing to update: the git tree has uncommitted changes:\n"
            f"{status.rstrip()}\n"
            "Commit or stash them first (git stash --include-untracked): the update is then\n"
            "one reviewable diff that git checkout/git stash can undo."
        )


def copier_refusal(output: str) -> str:
    """The one line that says why copier failed: its last error line (else its last line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if EXCEPTION_PREFIX.match(line)]
    if not lines:
        return "copier failed without a message"
    return EXCEPTION_PREFIX.sub("", (errors or lines)[-1])


def answers(project: Path) -> dict[str, str]:
    """The template source and version recorded in the answers file (``_src_path``, ...)."""
    recorded = {}
    for line in (project / ANSWERS_FILE).read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if key in {"_src_path", "_commit"}:
            recorded[key] = value.strip().strip("'\"")
    return recorded


def preview(project: Path, copier: list[str], options: list[str], scratch: Path) -> list[str]:
    """Update a worktree of ``HEAD`` in ``scratch``; return the tracked files it deleted."""
    worktree = scratch / "preview"
    git(project, "worktree", "add", "--detach", "--quiet", str(worktree), "HEAD")
    try:
        done = run([*copier, "update", "--defaults", "--quiet", *options], worktree)
        if done.returncode != 0:
            raise UpdateRefusedError(
                f"copier refused the update: {copier_refusal(done.stderr + done.stdout)} "
                f"(fix the answer in {ANSWERS_FILE} or in UPDATE_ARGS)"
            )
        deleted = git(worktree, "diff", "--name-only", "--diff-filter=D", "HEAD")
        return deleted.splitlines()
    finally:
        run(["git", "worktree", "remove", "--force", str(worktree)], project)


def team_changed(project: Path, copier: list[str], files: list[str], scratch: Path) -> list[str]:
    """The ``files`` that differ from the render of the release the project is on.

    That render uses the recorded answers; when it cannot be made, every file counts as changed.
    """
    recorded = answers(project)
    before = scratch / "before"
    done = run(
        [
            *copier,
            "copy",
            "--defaults",
            "--quiet",
            "--data-file",
            str(project / ANSWERS_FILE),
            "--vcs-ref",
            recorded.get("_commit", "HEAD"),
            recorded.get("_src_path", ""),
            str(before),
        ],
        project,
    )
    if done.returncode != 0:
        print(
            "make update: cannot render the release this project is on "
            f"({copier_refusal(done.stderr)}): counting every deleted file as changed",
            file=sys.stderr,
        )
        return files
    return [
        name
        for name in files
        if not (before / name).is_file()
        or (before / name).read_bytes() != (project / name).read_bytes()
    ]


def conflicts(project: Path) -> list[str]:
    """Changed or new files that hold a conflict marker, and any ``.rej`` file."""
    changed = git(project, "diff", "--name-only", "--relative", "HEAD").splitlines()
    changed += git(project, "ls-files", "--others", "--exclude-standard").splitlines()
    found = []
    for name in sorted(set(changed)):
        path = project / name
        if name.endswith(".rej") or (
            path.is_file() and CONFLICT_MARKER.search(path.read_bytes()) is not None
        ):
            found.append(name)
    return found


def update(project: Path, copier: list[str], options: list[str], *, force: bool) -> None:
    """Preview, refuse what would lose work, update, then report conflicts."""
    require_clean_tree(project)
    with tempfile.TemporaryDirectory(prefix="copier-update-") as scratch:
        deleted = preview(project, copier, options, Path(scratch))
        lost = team_changed(project, copier, deleted, Path(scratch)) if deleted else []
    if lost and not force:
        listed = "\n".join(f"  {name}" for name in lost)
        raise UpdateRefusedError(
            "refusing to update: the new answers or release delete files you changed:\n"
            f"{listed}\n"
            "Keep a copy elsewhere, or run make update FORCE=1 to delete them "
            "(git checkout HEAD -- <file> brings one back)."
        )
    if run([*copier, "update", "--defaults", *options], project, capture=False).returncode != 0:
        raise UpdateRefusedError("copier update failed: see its output above")
    found = conflicts(project)
    if found:
        listed = "\n".join(f"  {name}" for name in found)
        raise UpdateRefusedError(
            "conflicts to resolve (the template and your edits changed the same lines):\n"
            f"{listed}\n"
            "In each file keep what you need between '<<<<<<< before updating' (yours),\n"
            "'=======' and '>>>>>>> after updating' (the template's), delete the markers,\n"
            "then git add the file and run make install && make check."
        )
    print("make update: no conflicts. Review with git diff, then run make install && make check.")


def main() -> int:
    """Run the update in the current folder; exit 1 with the reason when it is refused."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog="copier update options follow a --"
    )
    parser.add_argument("--force", action="store_true", help="delete changed files too")
    arguments = sys.argv[1:]
    cut = arguments.index("--") if "--" in arguments else len(arguments)
    args = parser.parse_args(arguments[:cut])
    copier = shlex.split(os.environ.get("COPIER") or "copier")
    try:
        update(Path.cwd(), copier, arguments[cut + 1 :], force=args.force)
    except UpdateRefusedError as refused:
        print(f"make update: {refused}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
