"""Carry the team's edits of files a release moved or merged elsewhere, during ``copier update``.

A release that moves rendered files adds one version-gated migration to copier.yml (see
docs/UPDATING.md)::

    _migrations:
      - version: "0.4.0"
        command:
          - "{{ _copier_python }}"
          - "{{ _copier_conf.src_path }}/migrations/carry_moved_file.py"
          - OLD             # one move: OLD NEW; or many: --moves migrations/0.4.0.yml
          - NEW

A moves file maps each old path to its new home (``{package}`` stands for the package name);
several old files may share one new home (modules merged into one).

Copier runs this in the project after the update, when the new release has written NEW and
removed OLD. For each move it 3-way merges the team's committed OLD (ours), OLD as the template
last rendered it (base: the recorded release re-rendered with the recorded answers) and NEW as
the update left it (theirs), exactly as copier merges files that did not move. The team's edits
land in NEW; clashing edits are left as inline conflict markers, which ``make update`` lists. A
team that never edited OLD simply gets NEW. With ``--moves``, an edited file the release removed
without a new home is put back as the team committed it, and reported: never silently dropped.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from copier import run_copy

LABELS = ("before updating", "last update", "after updating")


def committed(path: str) -> bytes | None:
    """``path`` as committed in the project's HEAD, or None when HEAD lacks it."""
    shown = subprocess.run(["git", "show", f"HEAD:./{path}"], capture_output=True, check=False)
    return shown.stdout if shown.returncode == 0 else None


def recorded_answers() -> dict[str, object]:
    """The answers file as committed before this update."""
    text = committed(".copier-answers.yml")
    if text is None:
        raise SystemExit("copier-mlops migration: no .copier-answers.yml in HEAD: nothing carried")
    answers: dict[str, object] = yaml.safe_load(text)
    return answers


def render_last_release(template: str, answers: dict[str, object], destination: str) -> Path:
    """Render the recorded template commit with the recorded answers into ``destination``."""
    commit = os.environ.get("VERSION_FROM") or str(answers["_commit"])
    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    run_copy(
        template,
        destination,
        data=data,
        vcs_ref=commit,
        defaults=True,
        overwrite=True,
        quiet=True,
        unsafe=False,
        skip_tasks=True,
    )
    return Path(destination)


def carry(base_root: Path, old: str, new: str | None) -> str | None:
    """Carry the team's edited OLD into NEW (or keep it when NEW is None); what happened."""
    ours = committed(old)
    base_file = base_root / old
    if ours is None or Path(old).exists() or not base_file.is_file():
        return None  # not the team's, or not removed by this release
    base = base_file.read_bytes()
    if ours == base:
        return None  # not edited by the team: the release's version stands
    if new is None or not Path(new).is_file():
        Path(old).parent.mkdir(parents=True, exist_ok=True)
        Path(old).write_bytes(ours)
        return f"{old}: removed by this release but edited by you: kept as you committed it"
    theirs = Path(new).read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        base_copy, theirs_copy = Path(scratch, "base"), Path(scratch, "theirs")
        base_copy.write_bytes(base)
        theirs_copy.write_bytes(theirs)
        Path(new).write_bytes(ours)
        labels = [arg for label in LABELS for arg in ("-L", label)]
        merge = ["git", "merge-file", *labels, new, str(base_copy), str(theirs_copy)]
        merged = subprocess.run(merge, check=False)
    if merged.returncode < 0 or merged.returncode > 127:
        Path(new).write_bytes(theirs)
        raise SystemExit(f"git merge-file failed on {new}; the template's version is kept")
    if merged.returncode:
        return f"{old} -> {new}: your edits carried over with conflicts: resolve the markers"
    return f"{old} -> {new}: your edits carried over"


def read_moves(path: Path, package: str) -> dict[str, str]:
    """The release's ``{old: new}`` paths, with ``{package}`` replaced."""
    moves = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        old.replace("{package}", package): new.replace("{package}", package)
        for old, new in moves.items()
    }


def main(argv: list[str]) -> int:
    """``carry_moved_file.py OLD NEW`` or ``carry_moved_file.py --moves FILE``, in the project."""
    if len(argv) != 2:
        print(
            "usage: carry_moved_file.py OLD NEW | --moves FILE (paths relative to the project)",
            file=sys.stderr,
        )
        return 2
    template = str(Path(__file__).resolve().parent.parent)
    answers = recorded_answers()
    if argv[0] == "--moves":
        moves: dict[str, str | None] = dict(read_moves(Path(argv[1]), str(answers["package_name"])))
    else:
        moves = {argv[0]: argv[1]}
    with tempfile.TemporaryDirectory() as render:
        base_root = render_last_release(template, answers, render)
        if argv[0] == "--moves":
            # Another release's moves are carried by that release's migration, which an update
            # across both runs too: never put such a file back as "removed without a home".
            elsewhere = {
                old
                for other in Path(argv[1]).resolve().parent.glob("*.yml")
                if other.resolve() != Path(argv[1]).resolve()
                for old in read_moves(other, str(answers["package_name"]))
            }
            for path in sorted(base_root.rglob("*")):
                name = path.relative_to(base_root).as_posix()
                if path.is_file() and not name.startswith(".git/") and name not in elsewhere:
                    moves.setdefault(name, None)
        for old, new in moves.items():
            message = carry(base_root, old, new)
            if message:
                print(f"copier-mlops migration: {message}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
