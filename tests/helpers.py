"""Shared helpers of the meta suite: answer sets, interpreters, runner venvs and subprocesses."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from filelock import FileLock

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
RUNNER_CACHE = TEMPLATE_ROOT / ".cache" / "runners"

#: Answer sets that cover every choice value at least once; the keys are the test ids.
ANSWER_SETS: dict[str, dict[str, object]] = {
    "defaults": {},
    "regression-gitlab-apache-py312-nodocker": {
        "project_name": "Price Forecast",
        "model_task": "regression",
        "ci": "gitlab",
        "license": "Apache-2.0",
        "python_version": "3.12",
        "docker": False,
    },
    "classification-noci-bsd-py313-docker-longnames": {
        "project_name": "Customer Churn Risk Estimation For Retail Banking",
        "project_slug": "customer-churn-risk-estimation-retail-eu",
        "package_name": "customer_churn_risk_estimation_retail_eu",
        "ci": "none",
        "license": "BSD-3-Clause",
        "python_version": "3.13",
        "docker": True,
    },
    # Text answers with every character that needs escaping somewhere (TOML, Python docstrings,
    # Markdown, YAML) and Jinja-looking text; the slug and package name derive from the name.
    # Proprietary: the author's name lands in the README too.
    "regression-github-proprietary-py314-nodocker-specialtext": {
        "project_name": 'Bob\'s "Churn" & <C:\\ML> {{ x }} {% y %} Café',
        # The README wraps it so that a line starts with "- " (a list item if not escaped).
        "description": (
            'Predicts "churn" for C:\\data\\new & <b>scores</b> with {{ not_jinja }} and'
            " {% if x %} texts: - O'Brien's café, naïve *not* _emphasis_ [link](x) `code`"
            ' ~~struck~~, #1 résumé "quoted" text long enough to wrap.'
        ),
        "author_name": 'Zoë "Z" O\'Brien \\ Team & <Co> {{ a }} {% b %}',
        "model_task": "regression",
        "ci": "github",
        "license": "Proprietary",
        "python_version": "3.14",
        "docker": False,
    },
}

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
    """How to call uv: from PATH, else the module pip installed."""
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def project_requirements(project: Path) -> list[str]:
    """Runtime and dev requirements declared by a rendered project's pyproject."""
    project_table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    return sorted([*project_table["dependencies"], *project_table["optional-dependencies"]["dev"]])


def runner_venv(project: Path, interpreter: Interpreter) -> Path:
    """A venv with the project's dependencies (not the project) for ``interpreter``.

    Venvs are cached by interpreter and requirement list and shared by xdist workers under a
    file lock, so no rendered project is ever installed into the template's own environment.
    """
    requirements = project_requirements(project)
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:12]
    venv = RUNNER_CACHE / f"py{interpreter.version}-{digest}"
    RUNNER_CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock"):
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            env = os.environ | {"UV_PYTHON_DOWNLOADS": "never"}
            uv = uv_command()
            run([*uv, "venv", "--quiet", "--python", str(interpreter.path), str(venv)], env=env)
            requirements_file = venv / "requirements.txt"
            requirements_file.write_text("\n".join(requirements) + "\n")
            run(
                [
                    *uv,
                    "pip",
                    "install",
                    "--quiet",
                    "--python",
                    str(venv / "bin" / "python"),
                    "-r",
                    str(requirements_file),
                ],
                env=env,
            )
            (venv / ".complete").touch()
    return venv


def run(
    command: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run ``command``; on failure raise with its whole output so the test report shows it."""
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} exited {completed.returncode} in {cwd}\n"
            f"--- stdout ---\n{completed.stdout}\n--- stderr ---\n{completed.stderr}"
        )
    return completed


def project_env(venv: Path, project_dir: Path) -> dict[str, str]:
    """Environment for running a rendered project's tools from ``venv`` without installing it.

    Tool caches and coverage data go to a sibling directory, so the render itself stays exactly
    what copier wrote (other tests inspect its files).
    """
    caches = project_dir.with_name(f"{project_dir.name}-caches")
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env |= GIT_ENV
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": "src",
        "PYTHONPYCACHEPREFIX": str(caches / "pycache"),
        "MYPY_CACHE_DIR": str(caches / "mypy"),
        "RUFF_CACHE_DIR": str(caches / "ruff"),
        "COVERAGE_FILE": str(caches / "coverage" / ".coverage"),
        "HYPOTHESIS_STORAGE_DIRECTORY": str(caches / "hypothesis"),
        "PYTEST_ADDOPTS": "-p no:cacheprovider",
    }
    return env


JINJA_LEFTOVER = re.compile(r"{{|{%|%}")

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
