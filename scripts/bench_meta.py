"""Benchmark the template: render time, meta-suite parallel speed-up, generated test-suite time.

Prints ratios measured in this one run:
- ``copier copy --defaults`` of this template vs a trivial one-file template (target <= 1.2x;
  the median ratio of interleaved pairs), and copier's time per rendered file, which sets it;
- a generated project's own tests, serial vs ``-n auto`` (its ``make bench-tests``);
- the meta suite's fast tier serial vs ``-n auto`` (target >= 1.8x on 2 cores), then the wall
  time of the whole suite with ``-n auto`` (target <= 10 min).

Usage: ``.venv/bin/python scripts/bench_meta.py [--pairs N] [--render-only] [--skip-suite]``
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "docs" / "hooks")]  # as pytest's pythonpath

from runners import GIT_ENV, interpreter_for, project_env, run, runner_venv  # noqa: E402

BIN = Path(sys.executable).parent
ENV = os.environ | GIT_ENV


def _timed(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    run(command, cwd=cwd, env=env or ENV, timeout=7200)
    return time.perf_counter() - start


def _git_snapshot(source: Path, destination: Path) -> Path:
    """Commit ``source``'s files into a fresh repository, so both templates render from git.

    Packed like a cloned repository or copier's cache of a remote one: a fresh commit leaves one
    loose object per file, which copier's local clone copies and then deletes.
    """
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".git", ".venv", ".cache"))
    commands = (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"], ["repack", "-adq"])
    for command in commands:
        run(["git", *command], cwd=destination, env=ENV)
    return destination


def _trivial_template(destination: Path) -> Path:
    (destination / "template").mkdir(parents=True)
    (destination / "copier.yml").write_text(
        "_subdirectory: template\nproject_name:\n  type: str\n  default: demo\n"
    )
    (destination / "template" / "README.md.jinja").write_text("# {{ project_name }}\n")
    (destination / "template" / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml -}}\n"
    )
    return _git_snapshot(destination, destination.with_name("trivial-git"))


def _render(template: Path, destination: Path) -> float:
    copy = [str(BIN / "copier"), "copy", "--quiet", "--defaults", "--vcs-ref", "HEAD"]
    return _timed([*copy, str(template), str(destination)])


def bench_render(work: Path, pairs: int) -> Path:
    """Print render times of interleaved pairs (ours, trivial) and return one default render.

    One warm-up pair first; then the median of the per-pair ratios, so that a load change on the
    machine hits both renders of a pair alike.
    """
    ours = _git_snapshot(ROOT, work / "copier-mlops")
    trivial = _trivial_template(work / "trivial")
    renders = work / "renders"
    _render(ours, renders / "warmup-ours")
    _render(trivial, renders / "warmup-trivial")
    times = [
        (_render(ours, renders / f"ours-{index}"), _render(trivial, renders / f"trivial-{index}"))
        for index in range(pairs)
    ]
    ratios = [ours_time / trivial_time for ours_time, trivial_time in times]
    ours_median = statistics.median(ours_time for ours_time, _ in times)
    trivial_median = statistics.median(trivial_time for _, trivial_time in times)
    print(f"render  copier-mlops {ours_median:6.2f} s   trivial template {trivial_median:6.2f} s")
    print(f"        (medians of {pairs} interleaved pairs after a warm-up pair)")
    print(
        f"        ratio copier-mlops / trivial = {statistics.median(ratios):.2f}x"
        f" (median of per-pair ratios; range {min(ratios):.2f}-{max(ratios):.2f}x)"
    )
    ours_files, trivial_files = (_file_count(renders / f"{name}-0") for name in ("ours", "trivial"))
    per_file = (ours_median - trivial_median) / (ours_files - trivial_files) * 1000
    print(
        f"        {ours_files} vs {trivial_files} files written: copier spends {per_file:.1f} ms"
        " per extra file (path parts rendered, file rendered, git config)"
    )
    return renders / "ours-0"


def _file_count(project: Path) -> int:
    return sum(1 for path in project.rglob("*") if path.is_file())


def bench_generated_tests(project: Path) -> None:
    """Print a generated project's own tests serial vs ``-n auto`` (its ``make bench-tests``)."""
    venv = runner_venv(project, interpreter_for("3.11"))
    env = project_env(venv, project)
    bench = [str(venv / "bin" / "python"), "scripts/bench_tests.py", "--repeats", "1"]
    print("generated project tests (scripts/bench_tests.py, one round):")
    print(run(bench, cwd=project, env=env, timeout=3600).stdout.rstrip())


def bench_meta_suite() -> None:
    """Print the fast tier's wall time serial and with ``-n auto``, then the full suite's."""
    pytest = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"]
    fast = [*pytest, "-m", "not slow"]
    parallel = ["-n", "auto", "--dist", "worksteal"]  # as `make test` and `make test-fast` run
    _timed([*fast, *parallel], cwd=ROOT)  # warms the caches
    serial_time = _timed(fast, cwd=ROOT)
    parallel_time = _timed([*fast, *parallel], cwd=ROOT)
    print(f"fast tier   serial {serial_time:7.1f} s   -n auto {parallel_time:7.1f} s", end="")
    print(f" (cores: {os.cpu_count()})")
    print(f"            speed-up serial / -n auto = {serial_time / parallel_time:.2f}x")
    full_time = _timed([*pytest, *parallel], cwd=ROOT)
    print(f"full suite  -n auto {full_time / 60:6.1f} min (runner venvs from .cache/runners)")


def main() -> None:
    """Run the benchmarks and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs", type=int, default=7, help="interleaved render pairs (at least 7)"
    )
    parser.add_argument(
        "--render-only", action="store_true", help="time the renders only (under a minute)"
    )
    parser.add_argument("--skip-suite", action="store_true", help="skip the meta-suite timing")
    args = parser.parse_args()
    if args.pairs < 7:
        parser.error("--pairs must be at least 7")
    with tempfile.TemporaryDirectory() as work:
        project = bench_render(Path(work), args.pairs)
        if not args.render_only:
            bench_generated_tests(project)
    if not (args.skip_suite or args.render_only):
        bench_meta_suite()


if __name__ == "__main__":
    main()
