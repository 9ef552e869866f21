"""Estimated time of each CI shard of the meta suite, from the stored test durations.

    .venv/bin/python scripts/shard_times.py

The shard count and options come from the `shards` job of .github/workflows/ci.yml and the
command from `make test`, as CI runs it. The suite is collected once in CI's order and split with
pytest-split's own algorithm and .test_durations (`make durations` measures them; a test without
one counts as their average, as in pytest-split). Per shard: its tests, their summed durations and
the pytest wall time that suggests on a 2-core runner (`-n auto`: the sum over two workers).

An estimate, not a measurement: a session fixture's setup (a render, a runner venv, a training)
counts in the test that first used it on the measured run's worker, so a shard that needs one that
run built elsewhere pays for it again; runner setup (checkout, uv sync, Pythons) comes on top.
"""

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from pytest_split.algorithms import Algorithms

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
DURATIONS = ROOT / ".test_durations"
WORKERS = 2  # cores of a GitHub-hosted Linux runner: `-n auto` starts this many


def shard_job() -> tuple[int, str]:
    """The shard count and the PYTEST_ARGS template of ci.yml's `shards` job."""
    job: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())["jobs"]["shards"]
    shards = job["strategy"]["matrix"]["shard"]
    if shards != list(range(1, len(shards) + 1)):
        sys.exit(f"{WORKFLOW}: the shard matrix must be 1..N, found {shards}")
    [template] = [
        step["env"]["PYTEST_ARGS"] for step in job["steps"] if "PYTEST_ARGS" in step.get("env", {})
    ]
    return len(shards), template


def shard_args(template: str, shards: int, group: int) -> str:
    """PYTEST_ARGS of shard ``group`` as GitHub expands the template."""
    return template.replace("${{ strategy.job-total }}", str(shards)).replace(
        "${{ matrix.shard }}", str(group)
    )


def pytest_command(pytest_args: str = "") -> list[str]:
    """The pytest command `make test PYTEST_ARGS=...` runs, as ``python -m pytest`` arguments."""
    dry_run = subprocess.run(
        ["make", "-s", "--no-print-directory", "-n", "test", f"PYTEST_ARGS={pytest_args}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    [line] = [line for line in dry_run.splitlines() if line.startswith(".venv/bin/pytest ")]
    return [sys.executable, "-m", "pytest", *shlex.split(line)[1:]]


def collect_command(pytest_args: str = "") -> list[str]:
    """The collect-only run of `make test PYTEST_ARGS=...` (xdist stands aside when collecting)."""
    return [*pytest_command(pytest_args), "--collect-only", "-q", "-p", "no:cacheprovider"]


def test_ids(output: str) -> list[str]:
    """The test ids of a ``--collect-only -q`` report, in order."""
    return [line for line in output.splitlines() if line.startswith("tests/") and "::" in line]


def split(order: list[str], shards: int) -> list[tuple[list[str], float]]:
    """Each shard's test ids and summed stored durations, as pytest-split splits ``order`` (with
    its default algorithm, which CI uses: contiguous chunks keep an answer set's tests together)."""
    durations = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    items = [SimpleNamespace(nodeid=nodeid) for nodeid in order]
    groups = Algorithms.duration_based_chunks.value(shards, items, durations)
    return [([item.nodeid for item in group.selected], group.duration) for group in groups]


def main() -> int:
    """Print each shard's tests, durations and estimated pytest wall time."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help; no options
    shards, _ = shard_job()
    collected = subprocess.run(
        collect_command(), cwd=ROOT, capture_output=True, text=True, check=True
    )
    order = test_ids(collected.stdout)
    stored = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    print(f"{len(order)} tests, {sum(nodeid in stored for nodeid in order)} with a stored duration")
    for group, (ids, seconds) in enumerate(split(order, shards), 1):
        print(
            f"shard {group}/{shards}: {len(ids):3d} tests, {seconds / 60:5.1f} min of test time,"
            f" about {seconds / WORKERS / 60:5.1f} min of pytest on {WORKERS} workers"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
