"""Shared helpers of the meta suite: answer sets, renders, the files a render holds,
interpreters, runner venvs and subprocesses."""

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from copier import run_copy
from filelock import FileLock

from questions import copier_config as read_copier_config

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
RUNNER_CACHE = TEMPLATE_ROOT / ".cache" / "runners"

#: Named answer combinations (tests/answer-sets.yml); the names are the test ids.
ANSWER_SETS: dict[str, dict[str, object]] = yaml.safe_load(
    (Path(__file__).with_name("answer-sets.yml")).read_text()
)


def copier_config() -> dict[str, Any]:
    """copier.yml as copier reads it: its documents merged, each ``!include`` in place."""
    return read_copier_config(TEMPLATE_ROOT)


# -- renders


@dataclass(frozen=True)
class Project:
    """A rendered project: its directory and the answers copier recorded for it."""

    directory: Path
    answers: dict[str, Any]


def render(template: Path, destination: Path, ref: str = "HEAD", **answers: object) -> Project:
    """Render ``template`` at ``ref`` with ``answers`` (defaults for the rest), as a user does.

    The one way the suite renders: the copier API with `copier copy --defaults` semantics and
    without --trust. A clone whose HEAD is the working tree, or this repository itself (copier
    then renders the working tree, uncommitted changes included), can be ``template``.
    """
    run_copy(
        str(template),
        destination,
        data=answers,
        defaults=True,
        vcs_ref=ref,
        unsafe=False,
        quiet=True,
    )
    recorded = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    return Project(destination, {k: v for k, v in recorded.items() if not k.startswith("_")})


# -- the files a render holds

#: Every file of the generated code, tests, scripts and configs; ``{package}`` is the
#: package_name answer. THE list to update when the generated package's modules (and so their
#: tests) change: tests/test_render.py checks that a render holds exactly these files plus the
#: project files of ``expected_files``.
GENERATED_CODE = """
    src/{package}/__init__.py
    src/{package}/__main__.py
    src/{package}/cli.py
    src/{package}/core/__init__.py
    src/{package}/core/bundle.py
    src/{package}/core/config.py
    src/{package}/core/data.py
    src/{package}/core/pipeline.py
    src/{package}/core/profile.py
    src/{package}/core/schema.py
    src/{package}/core/training.py
    src/{package}/core/workflow.py
    src/{package}/monitoring/__init__.py
    src/{package}/monitoring/calibration.py
    src/{package}/monitoring/config.py
    src/{package}/monitoring/html_report.py
    src/{package}/monitoring/inputs.py
    src/{package}/monitoring/monitor.py
    src/{package}/monitoring/report.py
    src/{package}/monitoring/statistics.py
    src/{package}/monitoring/verdicts.py
    src/{package}/py.typed
    src/{package}/serving/__init__.py
    src/{package}/serving/app.py
    src/{package}/serving/metrics.py
    src/{package}/serving/model_server.py
    src/{package}/serving/prediction_log.py
    src/{package}/serving/schemas.py
    src/{package}/serving/scoring.py
    src/{package}/serving/settings.py
    tests/__init__.py
    tests/conftest.py
    tests/integration/__init__.py
    tests/integration/test_alert_rates.py
    tests/integration/test_monitor_cli.py
    tests/integration/test_pipeline.py
    tests/integration/test_server.py
    tests/unit/__init__.py
    tests/unit/core/__init__.py
    tests/unit/core/test_bundle.py
    tests/unit/core/test_config.py
    tests/unit/core/test_data.py
    tests/unit/core/test_pipeline.py
    tests/unit/core/test_profile.py
    tests/unit/core/test_schema.py
    tests/unit/core/test_training.py
    tests/unit/core/test_workflow.py
    tests/unit/monitoring/__init__.py
    tests/unit/monitoring/conftest.py
    tests/unit/monitoring/test_config.py
    tests/unit/monitoring/test_html_report.py
    tests/unit/monitoring/test_inputs.py
    tests/unit/monitoring/test_monitor.py
    tests/unit/monitoring/test_report.py
    tests/unit/monitoring/test_statistics.py
    tests/unit/monitoring/test_verdicts.py
    tests/unit/serving/__init__.py
    tests/unit/serving/conftest.py
    tests/unit/serving/test_app.py
    tests/unit/serving/test_metrics.py
    tests/unit/serving/test_model_server.py
    tests/unit/serving/test_prediction_log.py
    tests/unit/serving/test_schemas.py
    tests/unit/serving/test_scoring.py
    tests/unit/serving/test_settings.py
    scripts/bench_alerts.py
    scripts/bench_core.py
    scripts/bench_feedback.py
    scripts/bench_monitoring.py
    scripts/bench_serving.py
    scripts/bench_tests.py
    scripts/update.py
    configs/monitoring.yaml
    configs/train.yaml
"""

#: Files of the generated code, its tests and docs that only ``tracking: mlflow`` renders hold
#: (MLflow runs and registry); a ``tracking: none`` render has no trace of MLflow.
MLFLOW_CODE = """
    src/{package}/core/tracking.py
    tests/integration/test_tracking_server.py
    tests/unit/core/test_tracking.py
    docs/TRACKING.md
"""

#: Project files every render holds, whatever the answers.
PROJECT_FILES = """
    .copier-answers.yml
    .gitignore
    .pre-commit-config.yaml
    .pymarkdown.json
    .python-version
    Makefile
    README.md
    pyproject.toml
    uv.lock
    docs/BEST_PRACTICES.md
    docs/DEVELOPMENT.md
    docs/LESSONS_LEARNED.md
    docs/QUICK_START.md
    docs/TRAINING_PIPELINE.md
"""


#: Files outside deploy/ that only ``docker: true`` renders hold (the image, the local stack, the
#: deployment docs and the generated tests of the deploy tree).
DOCKER_FILES = """
    Dockerfile
    .dockerignore
    compose.yaml
    docs/DEPLOYMENT.md
    docs/RUNBOOK.md
    tests/integration/test_kubernetes.py
    tests/integration/test_observability.py
"""


def template_tree(folder: str, answers: Mapping[str, Any]) -> set[str]:
    """The files copier renders from ``template/<folder>`` with ``answers``.

    As copier does, the ``.jinja`` suffix is dropped, then each part of the path is rendered
    with Jinja (an empty part skips the file), so files named after answers or present only for
    some answers (``{% if tracking == 'mlflow' %}model.env{% endif %}``) come out as in a render.
    """
    root = TEMPLATE_ROOT / "template"
    environment = jinja2.Environment(keep_trailing_newline=True)
    files = set()
    for path in (root / folder).rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        name = path.relative_to(root).as_posix().removesuffix(".jinja")
        parts = [environment.from_string(part).render(answers) for part in name.split("/")]
        if all(parts):
            files.add("/".join(parts))
    return files


#: What `ci: github` adds to a render.
GITHUB_FILES = frozenset(
    {".github/dependabot.yml", ".github/workflows/ci.yml", ".github/workflows/template-update.yml"}
)


def expected_files(answers: Mapping[str, Any]) -> set[str]:
    """Exactly the files a render with ``answers`` holds (data, models, reports never)."""
    files = set(PROJECT_FILES.split())
    code = GENERATED_CODE.split()
    if answers["tracking"] == "mlflow":
        code += MLFLOW_CODE.split()
    files |= {name.format(package=answers["package_name"]) for name in code}
    if answers["license"] != "Proprietary":
        files.add("LICENSE")
    if answers["docker"]:
        files |= set(DOCKER_FILES.split()) | template_tree("deploy", answers)
    if answers["ci"] == "github":
        files |= GITHUB_FILES
    if answers["ci"] == "gitlab":
        files.add(".gitlab-ci.yml")
    return files


# -- subprocesses, interpreters and runner venvs

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Meta Suite",
    "GIT_AUTHOR_EMAIL": "meta-suite@example.com",
    "GIT_COMMITTER_NAME": "Meta Suite",
    "GIT_COMMITTER_EMAIL": "meta-suite@example.com",
}


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


def project_requirements(project: Path) -> list[str]:
    """Runtime and dev requirements declared by a rendered project's pyproject.

    The dev tools are the ``dev`` dependency group; renders of releases before 0.8.0 declare
    them as the ``dev`` extra.
    """
    data = tomllib.loads((project / "pyproject.toml").read_text())
    dev = data.get("dependency-groups", data["project"].get("optional-dependencies", {}))["dev"]
    return sorted([*data["project"]["dependencies"], *dev])


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


#: Run by a runner venv's Python: open (so create and migrate) the SQLite MLflow store argv[1].
MIGRATE_MLFLOW_STORE = (
    "import sys; from mlflow import MlflowClient; MlflowClient(sys.argv[1]).search_experiments()"
)


def empty_mlflow_store(venv: Path) -> Path:
    """An empty SQLite MLflow store migrated by ``venv``'s MLflow, made once per runner venv.

    Opening a fresh store runs MLflow's migrations (seconds); a copy of this file starts each
    trained copy of a render with a ready store, as the generated tests do for their own.
    """
    store = venv.with_name(f"{venv.name}-mlflow.db")
    with FileLock(str(store) + ".lock"):
        if not store.exists():
            scratch = store.with_name(f"{store.name}.tmp")
            scratch.unlink(missing_ok=True)
            python = str(venv / "bin" / "python")
            migrate = [python, "-c", MIGRATE_MLFLOW_STORE, f"sqlite:///{scratch}"]
            run(migrate, cwd=venv.parent, env=bytecode_env(venv))
            scratch.rename(store)
    return store


def move_mlflow_store(store: Path, old_root: Path, new_root: Path) -> None:
    """Point ``store``'s artifact locations under ``old_root`` at the same places in ``new_root``.

    MLflow records absolute artifact locations (an experiment's folder, each run's and version's
    files), and the generated project refuses to train into an experiment whose folder is not
    its own: a copied project with a rebased store is as if it had trained where it is.
    """
    old, new = old_root.as_uri(), new_root.as_uri()
    with contextlib.closing(sqlite3.connect(store)) as database, database:
        tables = database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in tables.fetchall():
            for column in database.execute(f'PRAGMA table_info("{table}")').fetchall():
                if column[2].upper().startswith(("VARCHAR", "TEXT")):
                    database.execute(
                        f'UPDATE "{table}" SET "{column[1]}" = ? || substr("{column[1]}", ?) '
                        f"WHERE \"{column[1]}\" LIKE ? || '%'",
                        (new, len(old) + 1, old),
                    )


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


#: The answer set the user journey renders, installs and checks with `make check`.
JOURNEY_SET = "defaults"
#: The answer set whose runner venv also holds the full `mlflow` (its `mlflow server`), so the
#: render's own test against a real tracking server runs there (it is skipped elsewhere).
MLFLOW_SERVER_SET = "classification-noci-bsd-py313-docker-longnames"


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


#: The names of the import contracts in a render's pyproject.toml, as `lint-imports` reports them.
LAYERS = "Layers: cli above serving and monitoring, both above core"
INDEPENDENCE = "Independence: serving and monitoring never import each other"

JINJA_LEFTOVER = re.compile(r"{{|{%|%}")

#: Template syntaxes of other tools that renders hold on purpose; they are not Jinja leftovers:
#: GitHub Actions expressions, Go templates of Prometheus and Alertmanager, Grafana legends.
FOREIGN_TEMPLATES = re.compile(
    r"\$\{\{[^{}]*\}\}"  # ${{ github.sha }}
    r"|\{\{-?\s*[$.][^{}]*\}\}"  # {{ $labels.instance }}, {{ .Annotations.runbook_url }}
    r'|"legendFormat":\s*"[^"]*"'  # "legendFormat": "{{route}} {{status}}"
)

#: Answers written into renders as free text; the other questions are identifiers or choices.
TEXT_QUESTIONS = ("project_name", "description", "author_name")


def text_answer_forms(answers: Mapping[str, object]) -> list[str]:
    """Each text answer as a render may hold it, whitespace collapsed, longest first.

    As typed (plain text, and Markdown once unescaped), escaped the way the template escapes it
    for TOML basic strings and Python docstrings, and as YAML writes it (the answers file).
    """
    forms: set[str] = set()
    for question in TEXT_QUESTIONS:
        text = str(answers[question])
        forms |= {
            text,
            text.replace("\\", "\\\\").replace('"', '\\"'),
            text.replace("\\", "\\u005c").replace('"', "\\u0022"),
            yaml.safe_dump({question: text}, allow_unicode=True).removeprefix(f"{question}: "),
        }
    return sorted({" ".join(form.split()) for form in forms}, key=len, reverse=True)


#: A CommonMark backslash escape: a backslash before ASCII punctuation.
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def without_text_answers(text: str, answers: Mapping[str, object], *, markdown: bool) -> str:
    """``text`` with whitespace collapsed and every occurrence of a text answer removed."""
    scanned = " ".join((MARKDOWN_ESCAPE.sub(r"\1", text) if markdown else text).split())
    for form in text_answer_forms(answers):
        scanned = scanned.replace(form, "")
    return scanned


def run_python(project_dir: Path, venv: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with the runner venv's Python in a rendered project (``src/`` on the path)."""
    return run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=project_dir,
        env=project_env(venv, project_dir),
    )


@dataclass(frozen=True)
class TrainedCopy:
    """A copy of a render where ``make data train`` has run, with the env to run more in it."""

    directory: Path
    env: dict[str, str]
    venv: Path

    def make(self, *targets: str) -> None:
        """Run make targets in the copy with the runner venv."""
        run(["make", f"VENV={self.venv}", *targets], cwd=self.directory, env=self.env)

    def python(self, *arguments: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """Run the runner venv's Python in the copy (``src/`` on the path)."""
        command = [str(self.venv / "bin" / "python"), *arguments]
        return run(command, cwd=self.directory, env=self.env, expect=expect)


# -- a served model over HTTP


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def call_json(url: str, body: bytes | None = None) -> tuple[int, Any]:
    """Status and JSON body of a GET (or a POST of ``body``); 4xx/5xx do not raise."""
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_ready(base: str, server: subprocess.Popen[str], seconds: float) -> None:
    """Wait until the server at ``base`` answers /readyz with 200; fail if it exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, f"serve exited early:\n{server.communicate()[0]}"
        try:
            if call_json(f"{base}/readyz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"serve was not ready within {seconds} s")


def demo_records(work: Path, rows: int) -> list[dict[str, float]]:
    """The first ``rows`` records of a trained copy's test data, without the target."""
    with (work / "data" / "test.csv").open() as handle:
        reader = csv.DictReader(handle)
        return [
            {name: float(value) for name, value in row.items() if name != "target"}
            for _, row in zip(range(rows), reader, strict=False)
        ]
