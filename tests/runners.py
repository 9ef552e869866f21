"""Running programs: the suite's one subprocess wrapper and where a render's tools run.

``run`` (every program the suite starts), the Python interpreters and uv found on this machine,
what a render requires and locks, and the runner venvs that hold it (cached, shared by xdist
workers), with the environment that runs a render's tools from one.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from rendering import TEMPLATE_ROOT

RUNNER_CACHE = TEMPLATE_ROOT / ".cache" / "runners"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Meta Suite",
    "GIT_AUTHOR_EMAIL": "meta-suite@example.com",
    "GIT_COMMITTER_NAME": "Meta Suite",
    "GIT_COMMITTER_EMAIL": "meta-suite@example.com",
}


def run(
    command: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    expect: int = 0,
) -> subprocess.CompletedProcess[str]:
    """Run ``command``; unless it exits with ``expect`` (0: success), raise with its output.

    The one way the suite runs a program: a test that expects a refusal passes its exit code
    (``expect=2``) and then checks the message in the returned output.
    """
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != expect:
        raise AssertionError(
            f"{' '.join(map(str, command))} exited {completed.returncode}, not {expect}, in {cwd}\n"
            f"--- stdout ---\n{completed.stdout}\n--- stderr ---\n{completed.stderr}"
        )
    return completed


# -- interpreters and uv


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter found on this machine."""

    version: str
    path: Path


def _interpreters() -> dict[str, Interpreter]:
    """Find python3.X interpreters on PATH and in pyenv, by minor version."""
    found: dict[str, Interpreter] = {}
    candidates = [Path(p) for p in (shutil.which(f"python3.{m}") for m in range(10, 20)) if p]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(pyenv_root.glob("3.*/bin/python3"))
    candidates.append(Path(sys.executable))
    for candidate in candidates:
        try:
            version = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        found.setdefault(version, Interpreter(version, candidate))
    return found


INTERPRETERS = _interpreters()


def version_key(version: str) -> tuple[int, ...]:
    """``"3.12"`` -> ``(3, 12)``, for ordering versions."""
    return tuple(int(part) for part in version.split("."))


def interpreter_for(python_version: str) -> Interpreter:
    """The interpreter of ``python_version`` if present, else the newest one present."""
    if python_version in INTERPRETERS:
        return INTERPRETERS[python_version]
    supported = [v for v in INTERPRETERS if version_key(v) >= (3, 11)]
    return INTERPRETERS[max(supported, key=version_key)]


def uv_command() -> list[str]:
    """How to call uv: the locked one beside this interpreter, else from PATH, else the module."""
    beside = Path(sys.executable).with_name("uv")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


# -- what a render requires and locks


def project_requirements(project: Path) -> list[str]:
    """Runtime and dev requirements declared by a rendered project's pyproject.

    The dev tools are the ``dev`` dependency group; renders of releases before 0.8.0 declare
    them as the ``dev`` extra.
    """
    data = tomllib.loads((project / "pyproject.toml").read_text())
    dev = data.get("dependency-groups", data["project"].get("optional-dependencies", {}))["dev"]
    return sorted([*data["project"]["dependencies"], *dev])


def minimum_python(project: Path) -> str:
    """The oldest Python a rendered project supports (its ``requires-python``), e.g. ``"3.12"``."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    return str(pyproject["project"]["requires-python"]).removeprefix(">=")


def tracks_with_mlflow(project: Path) -> bool:
    """Whether a rendered project depends on MLflow (its ``tracking`` answer is ``mlflow``)."""
    return any(re.match(r"mlflow-skinny\b", name) for name in project_requirements(project))


def cutoff() -> str:
    """What upstream has reached the template: ``[tool.uv] exclude-newer`` of its pyproject.toml.

    No file uploaded later is in the locks renders ship (``scripts/lock.py``), nor in what the
    suite installs beside them.
    """
    pyproject = tomllib.loads((TEMPLATE_ROOT / "pyproject.toml").read_text())
    value: str = pyproject["tool"]["uv"]["exclude-newer"]
    return value


def locked_requirements(project: Path, *, hashes: bool = True) -> str | None:
    """Every pin of a render's ``uv.lock`` (all groups, not the project), as ``uv export`` writes
    them; None for a render of a release before locks shipped."""
    if not (project / "uv.lock").is_file():
        return None
    export = [*uv_command(), "export", "--frozen", "--all-groups", "--no-emit-project", "--quiet"]
    export += ["--no-header"] + ([] if hashes else ["--no-hashes", "--no-annotate"])
    return run(export, cwd=project).stdout


def normalized(distribution: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def locked_versions(project: Path) -> dict[str, set[str]]:
    """Each distribution of a render's ``uv.lock`` (``normalized``) and its versions, one per
    resolution fork."""
    versions: dict[str, set[str]] = {}
    for line in (locked_requirements(project, hashes=False) or "").splitlines():
        if "==" in line:
            name, version = line.split(";")[0].strip().split("==")
            versions.setdefault(normalized(name), set()).add(version)
    return versions


# -- runner venvs


def bytecode_env(venv: Path) -> dict[str, str]:
    """This process's environment with ``venv``'s bytecode in one cache beside it.

    Runner venvs are installed without compiling: each module is compiled once, on its first
    import by any process, into ``<venv>-pycache`` (shared by xdist workers; Python writes each
    file atomically). Compiling every module at install cost about 20 s per venv, mostly for
    modules the checks never import. Rendered projects stay free of ``__pycache__``.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": str(bytecode_cache(venv))}


def bytecode_cache(venv: Path) -> Path:
    """Where the processes of ``venv`` keep their bytecode: beside it, never in a render."""
    return venv.with_name(f"{venv.name}-pycache")


def runner_venv(project: Path, interpreter: Interpreter, *, mlflow_server: bool = False) -> Path:
    """A venv with the project's dependencies (not the project) for ``interpreter``.

    It holds exactly what the render's ``uv.lock`` pins (hashes checked), as ``make install``
    does (with an older interpreter than the render's Python, the same versions without the
    hashes: the lock holds no files for it); a render of a release before locks shipped gets its
    declared requirements, resolved up to the template's cut-off. Venvs are cached by interpreter
    and what they hold, and shared by xdist workers under a file lock, so no rendered project is
    ever installed into the template's own environment. With ``mlflow_server`` (for a project
    that tracks with MLflow) the venv also holds the full ``mlflow`` at the locked
    ``mlflow-skinny`` version, resolved up to the cut-off, keeping every installed pin it does
    not conflict with (mlflow 3.17.2 wants pyarrow < 26): its ``mlflow server`` runs the
    project's real-tracking-server test, which is skipped elsewhere.
    """
    # An older interpreter than the render's Python (the newest here) gets the same versions, but
    # not the locked files: the lock holds no wheels for it.
    older = version_key(interpreter.version) < version_key(minimum_python(project))
    locked = locked_requirements(project, hashes=not older)
    requirements = locked or "\n".join(project_requirements(project)) + "\n"
    server = mlflow_server and tracks_with_mlflow(project)
    key = f"{cutoff()}\n{server}\n{requirements}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    venv = RUNNER_CACHE / f"py{interpreter.version}-{digest}"
    RUNNER_CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock"):
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            shutil.rmtree(bytecode_cache(venv), ignore_errors=True)  # of an unfinished venv
            env = os.environ | {"UV_PYTHON_DOWNLOADS": "never"}
            uv = uv_command()
            run([*uv, "venv", "--quiet", "--python", str(interpreter.path), str(venv)], env=env)
            requirements_file = venv / "requirements.txt"
            requirements_file.write_text(requirements)
            install = [*uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
            bounded = ["--exclude-newer", cutoff()]
            run([*install, *([] if locked else bounded), "-r", str(requirements_file)], env=env)
            if server:  # installed pins stay unless the full mlflow conflicts with them
                skinny = run([str(venv / "bin" / "python"), "-c", SKINNY_VERSION]).stdout.strip()
                run([*install, *bounded, f"mlflow=={skinny}"], env=env)
            (venv / ".complete").touch()
    return venv


#: Run by a runner venv's Python: the installed mlflow-skinny version.
SKINNY_VERSION = "import importlib.metadata as m; print(m.version('mlflow-skinny'))"


def project_env(venv: Path, project_dir: Path) -> dict[str, str]:
    """Environment for running a rendered project's tools from ``venv`` without installing it.

    Tool caches and coverage data go to a sibling directory and bytecode to the venv's cache
    (``bytecode_env``), so the render itself stays exactly what copier wrote (other tests
    inspect its files).
    """
    caches = project_dir.with_name(f"{project_dir.name}-caches")
    env = {k: v for k, v in bytecode_env(venv).items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env |= GIT_ENV
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": "src",
        "MYPY_CACHE_DIR": str(caches / "mypy"),
        "RUFF_CACHE_DIR": str(caches / "ruff"),
        "COVERAGE_FILE": str(caches / "coverage" / ".coverage"),
        "HYPOTHESIS_STORAGE_DIRECTORY": str(caches / "hypothesis"),
        "PYTEST_ADDOPTS": "-p no:cacheprovider",
    }
    return env


def assert_tool_tests_ran(output: str, *, mlflow_server: bool = False) -> None:
    """A render's tests that need a tool ran, not skipped, where the tool is here.

    ``output`` is its pytest output (``-ra`` lists each skip). `.ci/run` installs kubectl,
    promtool and Chromium; ``mlflow_server``: the venv holds `mlflow server`.
    """
    needed = []
    if shutil.which("kubectl") and shutil.which("promtool"):
        needed += ["test_kubernetes", "test_observability"]
    if shutil.which("chromium"):  # the /docs page in a real browser, offline
        needed.append("Chromium")
    if mlflow_server:
        needed.append("test_tracking_server")
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    wrongly = [line for line in skipped if any(name in line for name in needed)]
    assert not wrongly, "\n".join(wrongly)
