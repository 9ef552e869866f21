"""Carry the team's version of a moved file to its new path during ``copier update``.

A release that moves a rendered file from OLD to NEW adds a version-gated migration to
copier.yml (see docs/UPDATING.md)::

    _migrations:
      - version: "0.3.0"
        command:
          - "{{ _copier_python }}"
          - "{{ _copier_conf.src_path }}/migrations/carry_moved_file.py"
          - OLD
          - NEW

Copier runs it in the project after the update, when the new template has written NEW and removed
OLD. It 3-way merges into NEW, exactly as copier merges files that did not move: the team's
committed OLD (ours), OLD as the template last rendered it (base, re-rendered from the recorded
template commit and answers) and the template's NEW (theirs). Clashing edits are left as inline
conflict markers, which ``make update`` lists. A team that never edited OLD simply gets NEW.
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


def last_rendered(template: str, path: str) -> bytes | None:
    """``path`` as the template rendered it at the project's recorded commit and answers."""
    answers_text = committed(".copier-answers.yml")
    if answers_text is None:
        return None
    recorded = yaml.safe_load(answers_text)
    answers = {key: value for key, value in recorded.items() if not key.startswith("_")}
    commit = os.environ.get("VERSION_FROM") or str(recorded["_commit"])
    with tempfile.TemporaryDirectory() as render:
        run_copy(
            template,
            render,
            data=answers,
            vcs_ref=commit,
            defaults=True,
            overwrite=True,
            quiet=True,
            unsafe=False,
            skip_tasks=True,
        )
        rendered = Path(render, path)
        return rendered.read_bytes() if rendered.is_file() else None


def carry(template: str, old: str, new: str) -> str:
    """Merge the team's OLD into NEW; return what happened, for the user."""
    ours = committed(old)
    if ours is None:
        return f"{old}: not in the project, nothing to carry to {new}"
    if Path(old).exists():
        return f"{old}: still present after the update, left as it is"
    if committed(new) is not None or not Path(new).is_file():
        return f"{new}: not a new file of this update; {old} stays in git history"
    base = last_rendered(template, old)
    if base is None:
        return f"{old}: the recorded template version did not render it; nothing to carry"
    if ours == base:
        return f"{old} -> {new}: not edited by the team, the template's version is kept"
    theirs = Path(new).read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        base_file, theirs_file = Path(scratch, "base"), Path(scratch, "theirs")
        base_file.write_bytes(base)
        theirs_file.write_bytes(theirs)
        Path(new).write_bytes(ours)
        labels = [arg for label in LABELS for arg in ("-L", label)]
        merge = ["git", "merge-file", *labels, new, str(base_file), str(theirs_file)]
        merged = subprocess.run(merge, check=False)
    if merged.returncode < 0 or merged.returncode > 127:
        Path(new).write_bytes(theirs)
        raise SystemExit(f"git merge-file failed on {new}; the template's version is kept")
    if merged.returncode:
        return f"{old} -> {new}: your edits carried over with conflicts: resolve the markers"
    return f"{old} -> {new}: your edits carried over"


def main(argv: list[str]) -> int:
    """``carry_moved_file.py OLD NEW``, run by copier in the project root."""
    if len(argv) != 2:
        print("usage: carry_moved_file.py OLD NEW (paths relative to the project)", file=sys.stderr)
        return 2
    template = str(Path(__file__).resolve().parent.parent)
    print(f"copier-mlops migration: {carry(template, *argv)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
