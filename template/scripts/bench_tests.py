"""Benchmark this project's test suite: serial against ``pytest -n auto`` in the same run.

Each round runs the whole suite once serially and once on every core (pytest-xdist), in
turn; the figures are the median wall times and the speed-up, serial time / parallel time.

Usage: ``python scripts/bench_tests.py [--repeats 3] [--min-speedup 1.3] [-- pytest args]``
"""

import argparse
import os
import statistics
import subprocess
import sys
import time


def wall_seconds(arguments: list[str]) -> float:
    """Wall time of one pytest run with ``arguments``; exit with its output if it fails."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-4000:]}")
    return elapsed


def main() -> int:
    """Time both modes, print the figures; exit 1 when the speed-up is below --min-speedup."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-speedup", type=float, default=0.0, help="fail below this ratio")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest, after --")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    serial: list[float] = []
    parallel: list[float] = []
    for _ in range(args.repeats):
        serial.append(wall_seconds(args.pytest_args))
        parallel.append(wall_seconds(["-n", "auto", *args.pytest_args]))
    serial_median, parallel_median = statistics.median(serial), statistics.median(parallel)
    speedup = serial_median / parallel_median
    print(f"test-suite benchmark: {os.cpu_count()} cores, median of {args.repeats} runs each")
    print(f"  serial      {serial_median:7.1f} s  ({', '.join(f'{s:.1f}' for s in serial)})")
    print(f"  -n auto     {parallel_median:7.1f} s  ({', '.join(f'{s:.1f}' for s in parallel)})")
    print(f"  speed-up    {speedup:7.2f}x")
    if speedup < args.min_speedup:
        print(f"speed-up {speedup:.2f}x is below the target {args.min_speedup:.2f}x")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
