"""The locks a render ships: one ``uv.lock`` per Python, tracking and docker answer, in ``locks/``.

    .venv/bin/python scripts/lock.py                  # re-lock what pyproject.toml changed
    .venv/bin/python scripts/lock.py --upgrade        # newest releases up to the cut-off
    .venv/bin/python scripts/lock.py --upgrade --cutoff 2026-12-06   # move the cut-off first
    .venv/bin/python scripts/lock.py --check          # every lock matches its render (offline)

With --upgrade, the pins of a render's build requirements (``build-constraint-dependencies`` in
``template/pyproject.toml.jinja``: uv.lock holds none) move up to the cut-off too.
A render's ``uv.lock`` is ``locks/<variant>.lock`` with the project's name in place of the default
one (``template/uv.lock.jinja``); only these answers change what a render locks. Each variant is
rendered from the working tree with default answers otherwise, then ``uv lock`` runs in it with
the stored lock in place, so unchanged requirements keep their versions. Resolution never sees a
file uploaded after the cut-off, ``[tool.uv] exclude-newer`` of this repository's pyproject.toml
(the one date that says what upstream has reached the template), so re-locking the same commit
gives the same locks. The cut-off is left out of the stored locks: a team's ``uv lock``,
``make upgrade`` and Dependabot then resolve without it. Needs the package index unless --check.
"""

import argparse
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "docs" / "hooks")]  # as pytest's pythonpath

from rendering import copier_config, render  # noqa: E402
from runners import INTERPRETERS, cutoff, uv_command, version_key  # noqa: E402

LOCKS = ROOT / "locks"
PYPROJECT = ROOT / "pyproject.toml"
RENDERED_PYPROJECT = ROOT / "template" / "pyproject.toml.jinja"
#: The pins of a render's build requirements, which uv.lock does not hold.
BUILD_PINS = re.compile(r"^build-constraint-dependencies = \[\n(?:    .*\n)*\]$", re.MULTILINE)
#: The project name of the stored locks (the default slug); a render writes its own instead.
LOCKED_NAME = "my-mlops-project"
#: uv writes the cut-off it resolved with into the lock; the stored locks leave it out.
OPTIONS = re.compile(r"\n\[options\]\n(?:[^\n\[]+\n)*")
CUTOFF_LINE = re.compile(r'^exclude-newer = "[^"]*"$', re.MULTILINE)


class LockError(Exception):
    """uv could not lock (or check) a variant; the message says which and why."""


@dataclass(frozen=True)
class Variant:
    """One combination of the answers that change a render's lock."""

    python_version: str
    tracking: str
    docker: bool

    @property
    def name(self) -> str:
        """The stem of its lock in ``locks/``, e.g. ``py3.11-mlflow-docker``."""
        return f"py{self.python_version}-{self.tracking}-{'docker' if self.docker else 'nodocker'}"

    @property
    def path(self) -> Path:
        """Its lock in ``locks/``."""
        return LOCKS / f"{self.name}.lock"


def variants() -> list[Variant]:
    """Every combination of the choices of copier.yml's python_version and tracking, and docker."""
    config = copier_config()
    trackings = config["tracking"]["choices"]
    return [
        Variant(str(python), str(tracking), docker)
        for python in config["python_version"]["choices"]
        for tracking in (trackings.values() if isinstance(trackings, dict) else trackings)
        for docker in (True, False)
    ]


def set_cutoff(day: str) -> str:
    """Move the cut-off to the start of ``day`` (YYYY-MM-DD, UTC) in pyproject.toml."""
    try:
        moment = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise SystemExit(f"--cutoff {day!r} is not a date: use YYYY-MM-DD") from None
    if moment > datetime.now(UTC):
        raise SystemExit(f"--cutoff {day} is in the future: use today or an earlier day")
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    PYPROJECT.write_text(CUTOFF_LINE.sub(f'exclude-newer = "{stamp}"', PYPROJECT.read_text()))
    return stamp


def pin_build_requirements(stamp: str) -> list[str]:
    """Pin the newest build requirements up to the cut-off in the rendered pyproject.toml."""
    template = RENDERED_PYPROJECT.read_text()
    requires = re.search(r'^requires = \["([^"]+)"\]$', template, re.MULTILINE)
    if not requires or not BUILD_PINS.search(template):
        raise SystemExit(f"{RENDERED_PYPROJECT}: no build requires or build-constraint pins")
    compile_ = [*uv_command(), "pip", "compile", "-", "--quiet", "--universal", "--no-header"]
    oldest = min(map(str, copier_config()["python_version"]["choices"]), key=version_key)
    compile_ += ["--no-annotate", "--python-version", oldest]
    compile_ += ["--exclude-newer", stamp]
    done = subprocess.run(
        compile_, input=requires[1], capture_output=True, text=True, check=True, cwd=ROOT
    )
    pins = [line.strip() for line in done.stdout.splitlines() if "==" in line]
    listed = "".join(f'    "{pin}",\n' for pin in pins)
    RENDERED_PYPROJECT.write_text(
        BUILD_PINS.sub(f"build-constraint-dependencies = [\n{listed}]", template, count=1)
    )
    return pins


def stored(text: str) -> str:
    """A render's lock as ``locks/`` stores it: no cut-off, no Jinja that copier would run."""
    text = OPTIONS.sub("\n", text, count=1)
    if re.search(r"{{|{%|{#", text):
        raise SystemExit("a lock holds Jinja delimiters: template/uv.lock.jinja cannot include it")
    return text


def render_variant(variant: Variant, work: Path) -> Path:
    """Render ``variant`` with its stored lock (empty for a new one) into ``work``."""
    if not variant.path.exists():
        LOCKS.mkdir(exist_ok=True)
        variant.path.touch()
    project = work / variant.name
    answers = {"tracking": variant.tracking, "docker": variant.docker}
    return render(ROOT, project, python_version=variant.python_version, **answers).directory


def lock(variant: Variant, project: Path, *, upgrade: bool, check: bool, stamp: str) -> str:
    """Run ``uv lock`` in the render of ``variant``; return the lock to store (or check it)."""
    rendered = project / "uv.lock"
    if not rendered.read_text().strip():  # a new variant: no stored lock yet
        rendered.unlink()
    command = [*uv_command(), "lock", "--quiet"]
    if variant.python_version in INTERPRETERS:  # else uv finds (or fetches) one
        command += ["--python", str(INTERPRETERS[variant.python_version].path)]
    if check:
        command += ["--check", "--offline"]
    else:
        command += ["--exclude-newer", stamp] + (["--upgrade"] if upgrade else [])
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    if done.returncode:
        raise LockError(f"{variant.name}: {' '.join(command)} failed:\n{done.stderr.strip()}")
    return stored(rendered.read_text())


def changes(before: str, after: str) -> list[str]:
    """``name old -> new`` for each locked package whose version changed, was added or removed."""

    def versions(text: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for name, version in re.findall(r'^name = "([^"]+)"\nversion = "([^"]+)"', text, re.M):
            found.setdefault(name, set()).add(version)
        return found

    old, new = versions(before), versions(after)

    def shown(found: dict[str, set[str]], name: str) -> str:
        return "/".join(sorted(found.get(name, {"-"})))

    return [
        f"{name} {shown(old, name)} -> {shown(new, name)}"
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]


def lock_all(
    chosen: list[Variant], *, upgrade: bool, check: bool, stamp: str
) -> tuple[dict[Variant, str], list[str]]:
    """Render every variant (one at a time: copier is not thread-safe), lock them side by side;
    the locks to store, and the names of the variants that failed (each says why on stderr)."""
    results: dict[Variant, str] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="locks-") as tmp, ThreadPoolExecutor(4) as pool:
        projects = [render_variant(variant, Path(tmp)) for variant in chosen]
        jobs = [
            pool.submit(lock, v, p, upgrade=upgrade, check=check, stamp=stamp)
            for v, p in zip(chosen, projects, strict=True)
        ]
        for variant, job in zip(chosen, jobs, strict=True):
            try:
                results[variant] = job.result()
            except LockError as error:
                failed.append(variant.name)
                print(error, file=sys.stderr)
    return results, failed


def main() -> int:
    """Re-lock (or check) every variant and report what moved."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="newest releases up to the cut-off")
    parser.add_argument("--cutoff", metavar="YYYY-MM-DD", help="move the cut-off to this day first")
    parser.add_argument("--check", action="store_true", help="only check, offline; write nothing")
    args = parser.parse_args()
    if args.check and (args.upgrade or args.cutoff is not None):
        parser.error("--check writes nothing: it goes without --upgrade and --cutoff")
    chosen = variants()
    # All or nothing: a lock that fails leaves every file as it was, the cut-off included.
    edited = {path: path.read_text() for path in (PYPROJECT, RENDERED_PYPROJECT, ROOT / "uv.lock")}
    new = [variant.path for variant in chosen if not variant.path.exists()]
    try:
        stamp = cutoff() if args.cutoff is None else set_cutoff(args.cutoff)
        if args.cutoff is not None:  # this repository's own lock records it too; its versions stay
            subprocess.run([*uv_command(), "lock", "--quiet"], cwd=ROOT, check=True)
        if args.upgrade:
            print(f"build requirements: {', '.join(pin_build_requirements(stamp))}")
        results, failed = lock_all(chosen, upgrade=args.upgrade, check=args.check, stamp=stamp)
    except BaseException:
        failed = ["(interrupted)"]
        raise
    finally:
        if failed:
            for path, text in edited.items():
                path.write_text(text)
            for path in new:
                path.unlink(missing_ok=True)
    stale = []
    for variant, text in results.items():
        before = variant.path.read_text() if variant.path.exists() else ""
        moved = changes(before, text)
        if text != before:
            stale.append(variant.name)
            if not args.check and not failed:
                variant.path.write_text(text)
        if not before:
            print(f"{variant.name}: new lock, {text.count('[[package]]')} packages")
        else:
            detail = "; ".join(moved) or "no version changed" + (" (markers)" * (text != before))
            print(f"{variant.name}: {detail}")
    known = {variant.path for variant in chosen}
    strays = sorted(path.name for path in LOCKS.glob("*.lock") if path not in known)
    for name in strays:
        print(f"{name}: no answer combination renders it")
    done = "stale" if args.check else "changed"
    if failed and not args.check:
        done += " but none written"
    print(f"cut-off {stamp}: {len(stale)} of {len(chosen)} locks {done}, {len(failed)} failed")
    return 1 if failed or (args.check and (stale or strays)) else 0


if __name__ == "__main__":
    sys.exit(main())
