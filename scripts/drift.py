"""Dependency drift: what would the newest releases upstream, and the oldest copier the template
supports, break? Works in a clone of the committed HEAD; says what broke and what moved.

    .venv/bin/python scripts/drift.py                       # both parts
    .venv/bin/python scripts/drift.py oldest-copier         # one part
    .venv/bin/python scripts/drift.py newest-deps --pytest-args='-m "not slow"'

oldest-copier: ``copier==<_min_copier_version>`` must render the default answers to the same
files, byte for byte, as the locked copier (this interpreter's). newest-deps: every lock renders
ship is upgraded to the newest releases up to today (``scripts/lock.py --upgrade --cutoff``), then
the whole meta suite runs on them: every answer set's checks and tests, the lock-derived checks
(reserved names), updates and the user journey. The report (a Markdown table, the packages that
moved, each failing test with the moved packages its failure names, and the tail of the first
failing step's output) goes to stdout and to ``$GITHUB_STEP_SUMMARY`` when set. Exits 1 when a
part broke. To take what passed: ``make lock-upgrade CUTOFF=<the same day>`` gives the same locks
(the cut-off makes resolution repeatable), then a release ships them.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "docs" / "hooks")]  # as pytest's pythonpath

from lifecycle import files  # noqa: E402
from rendering import copier_config  # noqa: E402
from runners import uv_command  # noqa: E402

PARTS = ("oldest-copier", "newest-deps")
TAIL = 40  # lines of a failing step's output in the report
MESSAGE = 160  # characters of a failing test's first message line in the report


@dataclass(frozen=True)
class Step:
    """One command of a part and how it went."""

    part: str
    name: str
    ok: bool
    output: str
    #: More of the report: the packages that moved, the failing tests.
    details: list[str] = field(default_factory=list)


def run(part: str, name: str, command: list[str], cwd: Path = ROOT) -> Step:
    """Run ``command``; its output, stderr interleaved, is kept for the report."""
    print(f"[{part}] {name}: {' '.join(command)}", flush=True)
    done = subprocess.run(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    return Step(part, name, done.returncode == 0, done.stdout)


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


def moved_packages(lock_output: str) -> dict[str, str]:
    """``name -> "old -> new"`` from scripts/lock.py's report, over every lock."""
    moved: dict[str, str] = {}
    for line in lock_output.splitlines():
        _, _, changes = line.partition(": ")
        for change in changes.split("; "):
            if match := re.fullmatch(r"([A-Za-z0-9._-]+) (\S+ -> \S+)", change.strip()):
                moved.setdefault(match[1], match[2])
    return moved


def failures(junit: Path) -> list[tuple[str, str]]:
    """(test id, failure text) of each failed or erroring test in a JUnit XML report."""
    if not junit.is_file():
        return []
    found = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            found.append((name, f"{problem.get('message', '')}\n{problem.text or ''}"))
    return found


def blamed(text: str, moved: dict[str, str]) -> list[str]:
    """The moved packages a failure's text names: by distribution name, that name with
    underscores, or its first part where that is the import name (``mlflow`` of
    ``mlflow-skinny``; not generic prefixes such as ``python-`` or ``types-``)."""
    words = set(re.findall(r"[a-z0-9_-]+", text.lower()))

    def names(distribution: str) -> set[str]:
        lowered = distribution.lower()
        first = re.split(r"[-_.]", lowered)[0]
        generic = first in {"python", "types", "py", "pytest", "django"} or len(first) < 4
        return {lowered, lowered.replace("-", "_")} | (set() if generic else {first})

    return sorted(f"{name} {change}" for name, change in moved.items() if names(name) & words)


def newest_deps(work: Path, source: Path, day: str, pytest_args: str) -> list[Step]:
    """Upgrade every render's lock to the newest releases up to ``day``; run the meta suite."""
    part = "newest-deps"
    upgrade = [sys.executable, "scripts/lock.py", "--upgrade", "--cutoff", day]
    steps = [run(part, f"upgrade every lock up to {day}", upgrade, source)]
    moved = moved_packages(steps[-1].output)
    steps[-1].details.extend(
        f"moved: {name} {versions}" for name, versions in sorted(moved.items())
    )
    if not steps[-1].ok:
        return steps
    junit = work / "junit.xml"
    arguments = f"{pytest_args} --junitxml={junit}".strip()
    steps.append(run(part, "make test", ["make", "test", f"PYTEST_ARGS={arguments}"], source))
    for test, text in failures(junit):
        culprits = ", ".join(blamed(text, moved))
        first = text.strip().splitlines()[0][:MESSAGE] if text.strip() else ""
        named = f" (names {culprits})" if culprits else ""
        steps[-1].details.append(f"failed: {test}{named}: `{first}`")
    return steps


def report(steps: list[Step]) -> str:
    """A Markdown table of the steps, what moved and failed, then each failing step's tail."""
    lines = ["## Dependency drift", "", "| part | step | result |", "| --- | --- | --- |"]
    lines += [f"| {s.part} | {s.name} | {'ok' if s.ok else '**broke**'} |" for s in steps]
    for step in (s for s in steps if s.details):
        lines += ["", f"### {step.part}: {step.name}", ""]
        lines += [f"- {detail}" for detail in step.details]
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
        "--cutoff",
        metavar="YYYY-MM-DD",
        default=datetime.now(UTC).strftime("%Y-%m-%d"),
        help="newest-deps: releases uploaded before this day (default: today, UTC)",
    )
    parser.add_argument(
        "--pytest-args",
        default="",
        help="newest-deps: extra options for the meta suite, e.g. '-m \"not slow\"'",
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
            steps += newest_deps(work, source, args.cutoff, args.pytest_args)
    text = report(steps)
    print(text)
    if summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a") as out:
            out.write(text)
    return 0 if all(step.ok for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
