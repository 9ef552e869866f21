"""What a user does on a fresh machine: render, git init, `make install`, `make check`.

Its `make check` is also the default render's mypy --strict and own tests with coverage, which
test_generated_checks runs for the other answer sets. Its `make install` runs while the package
index offers a newer release of a locked dependency than the render's lock pins, as it will once
upstream publishes: the install still gets exactly the pinned versions.

Slow: `make install` creates the project's own `.venv` with uv and installs from the package index.
"""

import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest

from rendering import ANSWER_SETS, JOURNEY_SET, TEMPLATE_ROOT, render
from runners import GIT_ENV, assert_tool_tests_ran, locked_versions, normalized, run, uv_command
from trained_copy import wait_until_ready

pytestmark = pytest.mark.slow

#: A locked dependency of every render, and a release of it that no lock pins.
NEWER = ("prometheus-client", "999.0.0")


def newer_release(folder: Path) -> Path:
    """A folder holding a wheel of NEWER (metadata only), for uv as an extra flat index."""
    name, version = NEWER
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(text: str) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode().rstrip("=")

    record = "".join(f"{path},sha256={digest(text)},{len(text)}\n" for path, text in files.items())
    folder.mkdir()
    wheel = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in [*files.items(), (f"{info}/RECORD", record + f"{info}/RECORD,,\n")]:
            archive.writestr(path, text)
    return folder


def test_render_install_check(tmp_path: Path) -> None:
    project = render(TEMPLATE_ROOT, tmp_path / "project", **ANSWER_SETS[JOURNEY_SET])
    project_dir = project.directory
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}} | GIT_ENV
    run(["git", "init", "--quiet"], cwd=project_dir, env=env)
    run(["git", "add", "--all"], cwd=project_dir, env=env)
    run(["git", "commit", "--quiet", "-m", "Start from copier-mlops"], cwd=project_dir, env=env)

    shipped = (project_dir / "uv.lock").read_text()
    newer = env | {"UV_FIND_LINKS": str(newer_release(tmp_path / "newer"))}
    upgrade = [*uv_command(), "lock", "--upgrade-package", NEWER[0], "--dry-run"]
    assert f"-> v{NEWER[1]}" in run(upgrade, cwd=project_dir, env=newer).stderr  # it is offered

    install = run(["make", "install"], cwd=project_dir, env=newer)
    assert (project_dir / "uv.lock").read_text() == shipped
    freeze = [*uv_command(), "pip", "freeze", "--python", ".venv/bin/python"]
    frozen = run(freeze, cwd=project_dir).stdout.splitlines()
    pins = [line.split("==") for line in frozen if "==" in line]
    installed = {normalized(name): version for name, version in pins}
    pinned = locked_versions(project_dir)
    unpinned = sorted(f"{n}=={v}" for n, v in installed.items() if v not in pinned.get(n, ()))
    assert not unpinned, f"installed, but not as uv.lock pins them: {unpinned}"
    assert installed[NEWER[0]] in pinned[NEWER[0]]
    assert "pre-commit installed at .git/hooks/pre-commit" in install.stdout
    assert (project_dir / ".git" / "hooks" / "pre-push").is_file()

    check = run(["make", "check"], cwd=project_dir, env=env)
    assert "Required test coverage of 90" in check.stdout
    assert "created: " in check.stdout  # its tests ran on every core (pytest-xdist)
    assert "Success: no issues found" in check.stdout  # mypy --strict
    assert_tool_tests_ran(check.stdout)

    run([".venv/bin/pre-commit", "run", "--all-files"], cwd=project_dir, env=env)
    slug = str(project.answers["project_slug"])
    help_text = run([f".venv/bin/{slug}", "--help"], cwd=project_dir, env=env).stdout
    assert f"usage: {slug}" in help_text
    assert "Show this help" in run(["make", "help"], cwd=project_dir, env=env).stdout

    # The README's quick start, as a newcomer types it (install and check ran above).
    commands = [
        line.split("#")[0].strip()
        for line in quick_start(project_dir / "README.md")
        if line.split()[:2] not in (["make", "install"], ["make", "check"])
    ]
    script = "\n".join(["set -euo pipefail", *commands])
    run(["bash", "-c", script], cwd=project_dir, env=env)
    assert (project_dir / "reports" / "predictions.csv").is_file()

    # Then every command block of docs/QUICK_START.md, in order, as the newcomer reads on.
    shutil.copyfile(project_dir / "data" / "test.csv", project_dir / "new_rows.csv")  # theirs
    activated = env | {"PATH": f"{project_dir / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"}
    server: subprocess.Popen[str] | None = None
    for block in command_blocks(project_dir / "docs" / "QUICK_START.md"):
        commands = [line for line in block if line not in NOT_RUN]
        if commands == [SERVE]:
            server = start_server(project_dir, activated)
            continue
        script = "\n".join(["set -euo pipefail", *commands])
        run(["bash", "-c", script], cwd=project_dir, env=activated, timeout=600)
        if server is not None:  # the block that talks to the server ran
            stop_server(server)
            server = None
    assert server is None, "the server was never used"
    assert (project_dir / "reports" / "new_predictions.csv").is_file()
    assert (project_dir / "reports" / "predictions.jsonl").is_file()


def quick_start(readme: Path) -> list[str]:
    """The lines of the first shell block under the README's "Quick start" heading."""
    text = readme.read_text().split("## Quick start", 1)[1]
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


#: Quick-start commands the journey does not run, and why.
NOT_RUN = {
    "git init": "ran above",
    "make install": "ran above",
    "make check": "ran above",
    "make install && make check": "ran above",
    "source .venv/bin/activate": "the journey puts .venv/bin first on PATH instead",
    "make mlflow-ui": "downloads the full mlflow as a uv tool, and serves until stopped",
    "make update": "this render of the working tree is newer than any release: test_update.py",
}
#: The command that serves until stopped: started in the background for the next block.
SERVE = "make serve"
#: How long the journey waits for the server, and then for it to stop.
SERVER_SECONDS = 120


def command_blocks(markdown: Path) -> list[list[str]]:
    """The commands of each bash block in ``markdown``: trailing comments dropped, in order."""
    blocks = re.findall(r"^```bash\n(.*?)^```", markdown.read_text(), flags=re.M | re.S)
    return [
        [re.sub(r"\s{2,}#.*$", "", line) for line in block.splitlines() if line.strip()]
        for block in blocks
    ]


def start_server(project_dir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`make serve` with a prediction log, in its own process group, once it is ready."""
    with socket.socket() as probe:  # else the journey would talk to another server
        probe.bind(("127.0.0.1", 8000))
    logged = env | {"MODEL_SERVER_PREDICTION_LOG": "reports/predictions.jsonl"}
    server = subprocess.Popen(
        SERVE.split(),
        cwd=project_dir,
        env=logged,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until_ready("http://127.0.0.1:8000", server, SERVER_SECONDS)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: subprocess.Popen[str]) -> None:
    """Interrupt the server's whole process group (make and the server), as Ctrl-C does."""
    for sent in (signal.SIGINT, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sent)
        try:
            server.communicate(timeout=SERVER_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue
