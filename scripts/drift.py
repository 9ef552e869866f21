"""Dependency drift: render the template at HEAD with the oldest copier it supports and with the
newest versions of every dependency, and say what broke. Renders a clone of the committed HEAD.

    .venv/bin/python scripts/drift.py                      # both parts
    .venv/bin/python scripts/drift.py oldest-copier        # one part
    .venv/bin/python scripts/drift.py newest-deps --install-only

oldest-copier: ``copier==<_min_copier_version>`` must render the default answers to the same
files, byte for byte, as the locked copier (this interpreter's). newest-deps: the newest copier
renders the defaults, ``uv lock --upgrade`` resolves every dependency to its newest release, then
``make check`` (``make install`` only with --install-only). The report (a Markdown table, and the
tail of the first failing step's output) goes to stdout and to ``$GITHUB_STEP_SUMMARY`` when set.
Exits 1 when a part broke. Run ``make tags`` first: renders describe HEAD by its release tag.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "docs" / "hooks")]  # as pytest's pythonpath

from helpers import copier_config, uv_command  # noqa: E402
from lifecycle import files  # noqa: E402

PARTS = ("oldest-copier", "newest-deps")
TAIL = 40  # lines of a failing step's output in the report


@dataclass(frozen=True)
class Step:
    """One command of a part and how it went."""

    part: str
    name: str
    ok: bool
    output: str


def run(part: str, name: str, command: list[str], cwd: Path = ROOT) -> Step:
    """Run ``command``; its combined output is kept for the report."""
    print(f"[{part}] {name}: {' '.join(command)}", flush=True)
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    return Step(part, name, done.returncode == 0, done.stdout + done.stderr)


def clone_head(work: Path) -> Path:
    """A plain clone of HEAD with its tags: what copier renders (old copiers misread worktrees)."""
    source = work / "template"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(source)], check=True)
    subprocess.run(["git", "checkout", "--quiet", head.stdout.strip()], cwd=source, check=True)
    return source


def copy(copier: list[str], source: Path, destination: Path) -> list[str]:
    """The command that renders ``source`` at HEAD with default answers into ``destination``."""
    return [
        *copier,
        "copy",
        "--quiet",
        "--defaults",
        "--vcs-ref",
        "HEAD",
        str(source),
        str(destination),
    ]


def oldest_copier(work: Path, source: Path) -> list[Step]:
    """Render with the oldest supported copier and with the locked one; the files must agree."""
    part, version = "oldest-copier", str(copier_config()["_min_copier_version"])
    old, locked = work / "oldest", work / "locked"
    steps = [
        run(
            part,
            f"render with copier {version}",
            copy(
                [*uv_command(), "tool", "run", "--from", f"copier=={version}", "copier"],
                source,
                old,
            ),
        )
    ]
    if not steps[-1].ok:
        return steps
    steps.append(
        run(
            part,
            "render with the locked copier",
            copy([sys.executable, "-m", "copier"], source, locked),
        )
    )
    if not steps[-1].ok:
        return steps
    ours, theirs = files(old), files(locked)
    differing = sorted(
        name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name)
    )
    steps.append(
        Step(
            part,
            f"copier {version} renders what the locked copier renders",
            not differing,
            "\n".join(differing),
        )
    )
    return steps


def newest_deps(work: Path, source: Path, install_only: bool) -> list[Step]:
    """Render with the newest copier, upgrade every locked dependency, then install and check."""
    part, project = "newest-deps", work / "newest"
    commands = [
        (
            "render with the newest copier",
            copy(
                [*uv_command(), "tool", "run", "--from", "copier@latest", "copier"], source, project
            ),
            ROOT,
        ),
        ("uv lock --upgrade", [*uv_command(), "lock", "--upgrade"], project),
        ("make install", ["make", "install"], project),
    ]
    if not install_only:
        commands.append(("make check", ["make", "check"], project))
    steps: list[Step] = []
    for name, command, cwd in commands:
        steps.append(run(part, name, command, cwd))
        if not steps[-1].ok:
            break
    return steps


def report(steps: list[Step]) -> str:
    """A Markdown table of the steps, then the tail of each failing step's output."""
    lines = ["## Dependency drift", "", "| part | step | result |", "| --- | --- | --- |"]
    lines += [f"| {s.part} | {s.name} | {'ok' if s.ok else '**broke**'} |" for s in steps]
    for step in (s for s in steps if not s.ok):
        tail = "\n".join(step.output.rstrip().splitlines()[-TAIL:])
        lines += ["", f"### {step.part}: {step.name} broke", "", "```text", tail, "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Run the parts asked for (all by default) and report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "parts", nargs="*", metavar="part", help=f"{', '.join(PARTS)} (default: all)"
    )
    parser.add_argument(
        "--install-only",
        action="store_true",
        help="newest-deps: stop after make install (no make check)",
    )
    args = parser.parse_args()
    if unknown := set(args.parts) - set(PARTS):
        parser.error(f"unknown part {', '.join(sorted(unknown))}: choose from {', '.join(PARTS)}")
    parts = args.parts or PARTS
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="drift-") as tmp:
        work = Path(tmp)
        source = clone_head(work)
        if "oldest-copier" in parts:
            steps += oldest_copier(work, source)
        if "newest-deps" in parts:
            steps += newest_deps(work, source, args.install_only)
    text = report(steps)
    print(text)
    if summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a") as out:
            out.write(text)
    return 0 if all(step.ok for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
