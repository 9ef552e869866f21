"""Benchmark the project's own feedback loop: what a developer waits for, measured in one run.

Prints, each figure beside its target:

- the shape: modules and lines per package, and the longest functions;
- ``<command> --help``: wall time (median of 5) and the heavy libraries it imports;
- the fast tier (``pytest -m unit -n auto``): wall time and its slowest test;
- ``make check``: with cold caches (tool caches and bytecode of ``src/`` and ``tests/`` removed,
  the installed environment kept), then again warm.

Usage: ``python scripts/bench_feedback.py [--skip-check]``; exit 1 when a target is missed.
"""

import argparse
import ast
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ElementTree  # noqa: S405 - parses pytest's own report
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Libraries whose import costs seconds: `--help` must load none of them.
HEAVY = ("sklearn", "pandas", "scipy", "fastapi", "uvicorn", "mlflow")
FAST_TIER_SECONDS = 20.0
SLOWEST_UNIT_TEST_SECONDS = 1.0
CHECK_COLD_SECONDS = 75.0
CHECK_WARM_SECONDS = 55.0
CACHES = (".mypy_cache", ".ruff_cache", ".pytest_cache", ".import_linter_cache")


@dataclass(frozen=True)
class Figure:
    """One measured figure and its target (None: reported only)."""

    name: str
    value: float
    unit: str
    target: float | None = None

    @property
    def met(self) -> bool:
        """Whether the figure is within its target."""
        return self.target is None or self.value <= self.target

    def line(self) -> str:
        """The figure as one aligned report line."""
        target = "" if self.target is None else f"  (target <= {self.target:g} {self.unit})"
        verdict = "" if self.target is None else ("  ok" if self.met else "  MISSED")
        return f"{self.name:<44} {self.value:>9.2f} {self.unit}{target}{verdict}"


def package_and_command() -> tuple[str, str]:
    """The import package and the console command, from ``[project.scripts]``."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    command, entry = next(iter(scripts.items()))
    return entry.split(".")[0], command


def shape(package: str) -> list[str]:
    """Modules and lines per package of ``src/<package>``, and the three longest functions."""
    source = ROOT / "src" / package
    lines = [f"{'package':<32} {'modules':>8} {'lines':>7}"]
    functions: list[tuple[int, str]] = []
    for folder in sorted({path.parent for path in source.rglob("*.py")}):
        modules = sorted(folder.glob("*.py"))
        count = sum(len(module.read_text().splitlines()) for module in modules)
        lines.append(
            f"{folder.relative_to(source.parent).as_posix():<32} {len(modules):>8} {count:>7}"
        )
        for module in modules:
            for node in ast.walk(ast.parse(module.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    where = module.relative_to(source.parent).as_posix()
                    functions.append((length, f"{where}:{node.name}"))
    longest = sorted(functions, reverse=True)[:3]
    lines += [f"longest function: {name} ({length} lines)" for length, name in longest]
    return lines


def timed(command: list[str]) -> float:
    """Wall seconds of ``command`` in the project root; exit with its output if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(
            f"{' '.join(command)} exited {done.returncode}:\n{(done.stdout + done.stderr)[-4000:]}"
        )
    return elapsed


def help_figures(package: str, command: str) -> tuple[Figure, list[str]]:
    """Median wall time of ``--help`` (5 runs) and the heavy libraries it imports."""
    seconds = statistics.median(timed([sys.executable, "-m", package, "--help"]) for _ in range(5))
    probe = (
        "import sys\n"
        f"from {package}.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('heavy:', *sorted(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, our probe
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    heavy = done.stdout.splitlines()[-1].split()[1:]
    return Figure(f"{command} --help", seconds, "s"), heavy


def fast_tier() -> tuple[Figure, Figure, str]:
    """Wall time of the unit tests on every core, and their slowest test."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "unit.xml"
        seconds = timed(
            [
                sys.executable,
                "-m",
                "pytest",
                "-m",
                "unit",
                "-n",
                "auto",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={report}",
            ]
        )
        cases = ElementTree.parse(report).getroot().iter("testcase")  # noqa: S314
        slowest = max(cases, key=lambda case: float(case.get("time", "0")))
    name = f"{slowest.get('classname')}::{slowest.get('name')}"
    return (
        Figure("fast tier (pytest -m unit -n auto)", seconds, "s", FAST_TIER_SECONDS),
        Figure(
            "slowest unit test", float(slowest.get("time", "0")), "s", SLOWEST_UNIT_TEST_SECONDS
        ),
        name,
    )


def cold_caches() -> None:
    """Remove the tools' caches and the bytecode of ``src/`` and ``tests/``."""
    for name in CACHES:
        shutil.rmtree(ROOT / name, ignore_errors=True)
    for folder in ("src", "tests"):
        for cache in (ROOT / folder).rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)


def main() -> int:
    """Measure and print every figure; 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-check", action="store_true", help="do not time make check")
    args = parser.parse_args()
    package, command = package_and_command()
    print("\n".join(shape(package)))
    help_time, heavy = help_figures(package, command)
    tier, slowest, slowest_name = fast_tier()
    figures = [help_time, tier, slowest]
    if not args.skip_check:
        cold_caches()
        figures.append(
            Figure("make check, cold caches", timed(["make", "check"]), "s", CHECK_COLD_SECONDS)
        )
        figures.append(
            Figure("make check, warm", timed(["make", "check"]), "s", CHECK_WARM_SECONDS)
        )
    print("\n".join(figure.line() for figure in figures))
    print(f"heavy libraries --help imports: {', '.join(heavy) or 'none'} (target: none)")
    print(f"slowest unit test: {slowest_name}")
    missed = [figure.name for figure in figures if not figure.met] + (
        ["--help imports"] if heavy else []
    )
    if missed:
        print(f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
