"""What a render contains, for every answer set."""

import email.policy
import html
import json
import os
import re
import tomllib
import zipfile
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

import pytest
import yaml
from validate_pyproject.api import Validator

from rendering import (
    ANSWER_SETS,
    CHAMPION_PIN_WORKFLOW,
    FOREIGN_TEMPLATES,
    JINJA_LEFTOVER,
    TEMPLATE_ROOT,
    TEXT_QUESTIONS,
    Project,
    copier_config,
    expected_files,
    render,
    without_text_answers,
)
from runners import project_env, project_requirements, run, uv_command
from trained_copy import free_port

LICENSE_MARKERS = {
    "MIT": "Permission is hereby granted, free of charge",
    "Apache-2.0": "END OF TERMS AND CONDITIONS",
    "BSD-3-Clause": "Neither the name of the copyright holder",
}


def _files(project_dir: Path) -> set[str]:
    return {
        path.relative_to(project_dir).as_posix()
        for path in project_dir.rglob("*")
        if path.is_file() and ".git" not in path.parts
    }


def test_file_set_is_exactly_what_the_answers_call_for(project: Project, project_dir: Path) -> None:
    """No file missing, no stray file (rendering.expected_files says which, from the answers)."""
    files, expected = _files(project_dir), expected_files(project.answers)
    assert not expected - files, f"missing: {sorted(expected - files)}"
    assert not files - expected, f"not expected: {sorted(files - expected)}"


def test_no_leftover_jinja_or_whitespace_noise(project: Project, project_dir: Path) -> None:
    for name in sorted(_files(project_dir)):
        assert not name.endswith(".jinja"), name
        assert not JINJA_LEFTOVER.search(name), name
        text = (project_dir / name).read_text()
        # Text answers may hold `{{` on purpose: only what is left without them counts.
        scanned = without_text_answers(text, project.answers, markdown=name.endswith(".md"))
        scanned = FOREIGN_TEMPLATES.sub("", scanned)
        leftover = JINJA_LEFTOVER.search(scanned)
        assert not leftover, (
            f"{name}: ...{scanned[max(leftover.start() - 80, 0) : leftover.end() + 80]}"
        )
        lines = text.split("\n")
        trailing = [number for number, line in enumerate(lines, 1) if line != line.rstrip()]
        assert not trailing, f"{name}: trailing whitespace on lines {trailing}"
        assert not re.search(r"\n{4,}", text), f"{name}: a run of blank lines"
        if text:
            assert re.search(r"[^\n]\n\Z", text), f"{name}: must end with exactly one newline"


def test_pyproject_is_valid_and_follows_answers(project: Project, project_dir: Path) -> None:
    data = tomllib.loads((project_dir / "pyproject.toml").read_text())
    Validator()(data)
    answers, meta = project.answers, data["project"]
    assert meta["name"] == answers["project_slug"]
    assert meta["requires-python"] == f">={answers['python_version']}"
    assert meta["scripts"] == {answers["project_slug"]: f"{answers['package_name']}.cli:main"}
    assert data["build-system"]["build-backend"] == "hatchling.build"
    assert meta.get("license") == (
        None if answers["license"] == "Proprietary" else answers["license"]
    )
    assert {"scikit-learn", "numpy", "pandas"} <= {
        re.split("[<>=\\[]", d)[0] for d in meta["dependencies"]
    }
    assert "optional-dependencies" not in meta, "the dev tools are a dependency group, not an extra"
    dev = {re.split("[<>=\\[]", d)[0] for d in data["dependency-groups"]["dev"]}
    assert {
        "pytest",
        "pytest-xdist",
        "pytest-cov",
        "ruff",
        "mypy",
        "bandit",
        "pre-commit",
        "import-linter",
    } <= dev
    tool = data["tool"]
    assert tool["mypy"]["strict"] is True
    assert tool["mypy"]["python_version"] == answers["python_version"]
    assert "target-version" not in tool["ruff"]  # ruff reads requires-python
    assert {"E", "W", "F", "I", "N", "D", "B", "UP", "SIM"} <= set(tool["ruff"]["lint"]["select"])
    assert {"N803", "N806"} <= set(tool["ruff"]["lint"]["ignore"])
    assert set(tool["pytest"]["ini_options"]["markers"][i].split(":")[0] for i in range(3)) == {
        "unit",
        "integration",
        "slow",
    }
    assert "--strict-markers" in tool["pytest"]["ini_options"]["addopts"]
    assert tool["coverage"]["run"]["branch"] is True
    assert tool["coverage"]["run"]["source"] == [answers["package_name"]]
    assert tool["coverage"]["report"]["fail_under"] >= 90
    scripts = tool["hatch"]["envs"]["default"]["scripts"]
    assert {
        "test",
        "test-parallel",
        "test-parallel-cov",
        "lint",
        "type",
        "security",
        "check",
    } <= set(scripts)
    assert "lint-imports --no-cache" in scripts["lint"]
    package = answers["package_name"]
    importlinter = tool["importlinter"]
    assert importlinter["root_package"] == package
    contracts = {contract["type"]: contract for contract in importlinter["contracts"]}
    assert contracts["layers"]["layers"] == [
        f"{package}.cli",
        f"{package}.serving | {package}.monitoring",
        f"{package}.core",
    ]
    assert contracts["independence"]["modules"] == [f"{package}.serving", f"{package}.monitoring"]


#: Run in a render by its runner venv: the README as GitHub shows it (CommonMark with
#: strikethrough) and the docstrings of the package and its CLI.
READ_BACK = """
import importlib, json, sys
from pathlib import Path
from markdown_it import MarkdownIt
readme = MarkdownIt("commonmark").enable("strikethrough").render(Path("README.md").read_text())
package = importlib.import_module(sys.argv[1])
cli = importlib.import_module(sys.argv[1] + ".cli")
print(json.dumps({"readme": readme, "package": package.__doc__, "cli": cli.__doc__}))
"""


def _as_html(text: str) -> str:
    """``text`` as markdown-it writes plain text into HTML."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def test_text_answers_read_back_exactly(
    project: Project, project_dir: Path, venv: Path, tmp_path: Path
) -> None:
    """pyproject.toml, the README as shown, docstrings and the wheel's metadata keep the text."""
    answers = project.answers
    name, description, author = (str(answers[question]) for question in TEXT_QUESTIONS)
    meta = tomllib.loads((project_dir / "pyproject.toml").read_text())["project"]
    assert meta["description"] == description
    assert meta["authors"] == [{"name": author, "email": answers["author_email"]}]

    python = str(venv / "bin" / "python")
    command = [python, "-c", READ_BACK, str(answers["package_name"])]
    read = json.loads(run(command, cwd=project_dir, env=project_env(venv, project_dir)).stdout)
    readme = read["readme"].replace("\n", " ")
    assert f"<h1>{_as_html(name)}</h1>" in readme
    assert f"<p>{_as_html(description)}</p>" in readme
    if answers["license"] == "Proprietary":
        assert f" {_as_html(author)}. All rights reserved." in readme
    assert read["package"].split("\n")[0] == f"{name}."
    assert read["cli"].split("\n")[0] == f"Command-line interface of {name}."
    for docstring in (read["package"], read["cli"]):
        assert "".join(docstring.split("\n", 1)[1].split()) == "".join(description.split())

    build = [*uv_command(), "build", "--wheel", "--quiet", "--python", python]
    run([*build, "--out-dir", str(tmp_path), str(project_dir)])
    with zipfile.ZipFile(next(tmp_path.glob("*.whl"))) as wheel:
        metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        headers = BytesParser(policy=email.policy.default).parsebytes(wheel.read(metadata))
    assert headers["Summary"] == description
    assert getaddresses([str(headers["Author-email"])]) == [(author, answers["author_email"])]


def test_answers_file_records_every_answer(answer_set: str, project_dir: Path) -> None:
    """Every question of copier.yml and no computed value; the answers given, as given."""
    recorded = yaml.safe_load((project_dir / ".copier-answers.yml").read_text())
    assert recorded["_src_path"]
    assert recorded["_commit"]
    config = {name: spec for name, spec in copier_config().items() if not name.startswith("_")}
    computed = {name for name, spec in config.items() if spec.get("when") is False}
    assert computed >= {"python_keywords", "stdlib_module_names", "dependency_module_names"}
    assert {name for name in recorded if not name.startswith("_")} == set(config) - computed
    assert ANSWER_SETS[answer_set].items() <= recorded.items()


def test_yaml_files_parse(project_dir: Path) -> None:
    for path in [*project_dir.rglob("*.yml"), *project_dir.rglob("*.yaml")]:
        documents = list(yaml.safe_load_all(path.read_text()))  # Kubernetes files may hold several
        assert documents, path
        assert all(document is not None for document in documents), path


def test_ci_runs_every_check(project: Project, project_dir: Path) -> None:
    ci = project.answers["ci"]
    if ci == "none":
        pytest.skip("ci=none renders no CI configuration")
    path = ".github/workflows/ci.yml" if ci == "github" else ".gitlab-ci.yml"
    text = (project_dir / path).read_text()
    for target in (
        "make install",
        "make lint",
        "make type",
        "make security",
        "make test-parallel-cov",
        "make audit",
    ):
        assert target in text, f"{path} lacks {target}"
    assert project.answers["python_version"] in text


def test_license_text_follows_answer(project: Project, project_dir: Path) -> None:
    license_id = project.answers["license"]
    readme = (project_dir / "README.md").read_text()
    if license_id == "Proprietary":
        assert not (project_dir / "LICENSE").exists()
        assert "proprietary" in readme.lower()
        return
    text = (project_dir / "LICENSE").read_text()
    assert LICENSE_MARKERS[license_id] in text
    if license_id != "Apache-2.0":
        assert str(project.answers["author_name"]) in text


def test_dockerfile_runs_as_non_root(project: Project, project_dir: Path) -> None:
    if not project.answers["docker"]:
        pytest.skip("docker=false renders no Dockerfile")
    text = (project_dir / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, flags=re.M)) >= 2, "multi-stage build expected"
    assert "uv" in text
    user_lines = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert user_lines
    assert user_lines[-1] not in {"root", "0"}
    assert f"python:{project.answers['python_version']}" in text


def test_docker_image_serves_with_a_healthcheck(project: Project, project_dir: Path) -> None:
    if not project.answers["docker"]:
        pytest.skip("docker=false renders no Dockerfile")
    text = (project_dir / "Dockerfile").read_text()
    assert re.search(r'^CMD \["serve", "--host", "0\.0\.0\.0", "--port", "8000"\]$', text, re.M)
    assert re.search(r"^EXPOSE 8000$", text, flags=re.M)
    healthcheck = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (.*)$", text, flags=re.M)
    assert healthcheck
    assert "urllib.request" in healthcheck.group(1)
    assert "http://127.0.0.1:8000/livez" in healthcheck.group(1)
    assert "curl" not in healthcheck.group(1)
    makefile = (project_dir / "Makefile").read_text()
    assert f"docker build -t {project.answers['project_slug']} ." in makefile
    mount = r"docker run --rm -p \$\(SERVE_PORT\):8000 -v .*/models:/home/app/models:ro"
    assert re.search(mount, makefile)


def test_makefile_documents_every_target(project: Project, project_dir: Path) -> None:
    text = (project_dir / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):.*## ", text, flags=re.M))
    required = {
        "help",
        "install",
        "upgrade",
        "test",
        "test-parallel",
        "test-parallel-cov",
        "bench-tests",
        "bench-feedback",
        "lint",
        "format",
        "type",
        "security",
        "check",
        "audit",
        "clean",
        "data",
        "train",
        "evaluate",
        "predict",
        "bench-core",
        "update",
        "serve",
        "bench-serving",
        "monitor",
        "bench-monitoring",
        "label",
        "candidate",
        "promote",
        "rollback",
        "loop",
        "bench-promotion",
    }
    assert required <= targets
    docker_targets = {"docker-build", "docker-run", "stack-up", "stack-down", "deploy-check"}
    assert (docker_targets <= targets) == project.answers["docker"]
    assert docker_targets & targets in (set(), docker_targets)

    tracking_targets = {"mlflow-ui", "models"}
    assert (tracking_targets <= targets) == (project.answers["tracking"] == "mlflow")
    assert tracking_targets & targets in (set(), tracking_targets)
    declared = set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.M))
    assert declared <= targets, f"targets without ## help: {declared - targets}"


def test_make_targets_whose_service_is_missing_say_so_in_one_line(
    project: Project, project_dir: Path, tmp_path: Path
) -> None:
    """No Compose plugin (Docker prints its usage), PyPI's vulnerability data unreachable."""
    fake = tmp_path / "bin"
    fake.mkdir()
    docker = fake / "docker"  # as Docker without the plugin: usage text, exit 1
    docker.write_text(
        '#!/bin/sh\necho "docker: unknown command: docker $1"\necho\necho Usage >&2\nexit 1\n'
    )
    docker.chmod(0o755)
    path = os.pathsep.join([str(fake), str(Path(uv_command()[0]).parent), os.environ["PATH"]])
    env = os.environ | {"PATH": path}
    cases = [("audit", f"AUDIT_PROBE=http://127.0.0.1:{free_port()}/pypi/pip/24.0/json")]
    if project.answers["docker"]:
        cases += [("stack-up", ""), ("stack-down", "")]
    for target, setting in cases:
        refused = run(
            ["make", "--no-print-directory", target, *filter(None, [setting])],
            cwd=project_dir,
            env=env,
            expect=2,
        )
        lines = [
            line
            for line in refused.stderr.splitlines()
            if not re.match(r"make(\[\d+\])?: \*\*\*", line)
        ]
        assert len(lines) == 1, refused.stderr
        assert lines[0].startswith(f"make {target}: "), refused.stderr
        assert refused.stdout.strip() == "", refused.stdout
    assert not (project_dir / ".venv").exists()


def test_precommit_has_required_hooks(project_dir: Path) -> None:
    config = yaml.safe_load((project_dir / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    text = (project_dir / ".pre-commit-config.yaml").read_text()
    for needle in (
        "ruff check",
        "ruff format",
        "mypy",
        "bandit",
        "uv lock",
        "lint-imports",
        "pymarkdown",
        "check-merge-conflict",
        "end-of-file-fixer",
        "trailing-whitespace",
        "check-yaml",
        "check-toml",
        "pytest",
    ):
        assert needle in text, needle
    # copier update leaves conflict markers outside a git merge: the hook must look anyway.
    assert "--assume-in-merge" in hooks["check-merge-conflict"]["entry"]
    pre_push = [hook for hook in hooks.values() if "pre-push" in hook.get("stages", [])]
    assert any("pytest" in hook["entry"] and "-m unit" in hook["entry"] for hook in pre_push)


def test_no_rendered_line_looks_like_a_conflict_marker(project_dir: Path) -> None:
    """check-merge-conflict runs with --assume-in-merge, so a render must not trip it."""
    marker = re.compile(r"^(<<<<<<< |======= |=======$|>>>>>>> )", flags=re.M)
    for name in sorted(_files(project_dir)):
        assert not marker.search((project_dir / name).read_text()), name


def test_ci_checks_weekly_whether_the_template_moved_on(
    project: Project, project_dir: Path
) -> None:
    ci = project.answers["ci"]
    if ci == "none":
        pytest.skip("ci=none renders no CI configuration")
    if ci == "github":
        workflow = yaml.safe_load(
            (project_dir / ".github" / "workflows" / "template-update.yml").read_text()
        )
        # PyYAML reads the key `on` as True.
        triggers = workflow[True]
        assert re.fullmatch(r"\d+ \d+ \* \* [0-6]", triggers["schedule"][0]["cron"])
        steps = workflow["jobs"]["check-update"]["steps"]
        script = "\n".join(step.get("run", "") for step in steps)
    else:
        job = yaml.safe_load((project_dir / ".gitlab-ci.yml").read_text())["template-update"]
        assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
        script = "\n".join(job["script"])
    assert "copier check-update --quiet" in script
    assert '"$status" -eq 2' in script
    assert "exit 1" in script
    assert "make update" in script


def test_only_template_files_with_jinja_carry_the_suffix() -> None:
    """A `.jinja` file holds Jinja; every other file is copied as is (copier.yml's suffix)."""
    plain = [
        path.relative_to(TEMPLATE_ROOT).as_posix()
        for path in (TEMPLATE_ROOT / "template").rglob("*.jinja")
        if not JINJA_LEFTOVER.search(path.read_text())
    ]
    assert not plain, f"no Jinja inside: drop the .jinja suffix of {plain}"


def test_python_templates_take_answers_as_whole_files() -> None:
    """At most 6 `{% %}` lines across the package's Python templates (docs/DESIGN.md's rule).

    Code that only some answers need lives in files rendered only for them, found at run time.
    """
    statements = {
        path.relative_to(TEMPLATE_ROOT).as_posix(): count
        for path in (TEMPLATE_ROOT / "template" / "src").rglob("*.py*")
        if (count := sum("{%" in line for line in path.read_text().splitlines()))
    }
    assert sum(statements.values()) <= 6, statements


def test_tracking_none_leaves_no_trace_of_mlflow(project: Project, project_dir: Path) -> None:
    """No file name, doc, config or dependency says MLflow, and no code imports it.

    `.gitignore` keeps the store of a project that switched tracking off out of git. The Python
    modules both answers share may say what a project that tracks with MLflow does (they are
    whole files, not Jinja, docs/DESIGN.md), but none imports it.
    """
    if project.answers["tracking"] != "none":
        pytest.skip("only a tracking=none render is free of MLflow")
    imports = re.compile(r"^\s*(import|from)\s+mlflow\b", re.MULTILINE)
    for name in sorted(set(_files(project_dir)) - {".gitignore"}):
        assert "mlflow" not in name.lower(), name
        text = (project_dir / name).read_text()
        if name.endswith(".py"):
            assert not imports.search(text), f"{name} imports MLflow"
        else:
            assert "mlflow" not in text.lower(), f"{name} mentions MLflow"
    declared = project_requirements(project_dir)
    names = {re.split("[<>=\\[; ]", requirement)[0].lower() for requirement in declared}
    assert not names & {"mlflow", "mlflow-skinny", "sqlalchemy", "alembic"}, names


def test_tracking_mlflow_brings_its_dependency_commands_and_docs(
    project: Project, project_dir: Path
) -> None:
    """The lightest MLflow, the UI as a tool pinned to the lock, the team server documented."""
    if project.answers["tracking"] != "mlflow":
        pytest.skip("tracking=none renders no MLflow")
    meta = tomllib.loads((project_dir / "pyproject.toml").read_text())["project"]
    names = {re.split("[<>=\\[; ]", requirement)[0] for requirement in meta["dependencies"]}
    assert "mlflow-skinny" in names
    assert "mlflow" not in names, "the full mlflow (UI, server) is a tool, not a dependency"
    makefile = (project_dir / "Makefile").read_text()
    ui = makefile.split("\nmlflow-ui:", 1)[1].split("\n\n", 1)[0]
    assert 'tool run --compile-bytecode --from "mlflow==$$version"' in ui
    assert "mlflow ui" in ui
    assert '--backend-store-uri "$(MLFLOW_STORE)"' in ui
    assert "MLFLOW_STORE ?= sqlite:///mlflow.db" in makefile
    assert "sync --group dev --compile-bytecode" in makefile
    gitignore = (project_dir / ".gitignore").read_text().split()
    assert {"mlflow.db", "mlruns/"} <= set(gitignore)
    guide = (project_dir / "docs" / "TRACKING.md").read_text()
    slug = project.answers["project_slug"]
    for needle in (
        "sqlite:///mlflow.db",
        "MLFLOW_TRACKING_URI",
        "--artifacts-destination",
        "mlflow-artifacts:",
        "champion",
        "challenger",
        "--if-better",
        f"models:/{slug}@champion",
        "MODEL_SERVER_MODEL_URI",
        "SHA-256",
        "make mlflow-ui",
    ):
        assert needle in guide, f"docs/TRACKING.md lacks {needle}"
    for doc, link in (
        ("README.md", "(docs/TRACKING.md)"),
        ("docs/QUICK_START.md", "(TRACKING.md)"),
    ):
        text = (project_dir / doc).read_text()
        assert link in text, doc
        assert "make mlflow-ui" in text, doc


def test_compose_file_runs_the_stack(project: Project, project_dir: Path) -> None:
    if not project.answers["docker"]:
        pytest.skip("docker=false renders no compose file")
    compose = yaml.safe_load((project_dir / "compose.yaml").read_text())
    services = compose["services"]
    slug = project.answers["project_slug"]
    mlflow = project.answers["tracking"] == "mlflow"
    assert set(services) == {"serving", "monitor", "prometheus", "grafana"} | (
        {"mlflow"} if mlflow else set()
    )
    for service in services.values():
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", []))
    serving = services["serving"]
    assert serving["build"] == "."
    assert serving["volumes"] == ["monitoring:/var/lib/mlops"]  # the model is in the image
    environment = {
        "MODEL_SERVER_PREDICTION_LOG": "/var/lib/mlops/predictions/serving.jsonl",
        "MODEL_SERVER_DRIFT_REPORT_DIR": "/var/lib/mlops/reports",
    }
    assert services["monitor"]["profiles"] == ["monitor"]
    assert services["prometheus"]["image"].startswith("prom/prometheus:v")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    if not mlflow:
        assert serving["environment"] == environment
        return
    assert serving["environment"] == environment | {
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "MODEL_SERVER_MODEL_URI": f"models:/{slug}@champion",
    }
    assert serving["depends_on"] == {"mlflow": {"condition": "service_healthy"}}
    server = services["mlflow"]
    assert server["image"].startswith("ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION:?")
    command = " ".join(server["command"])
    assert command.startswith("mlflow server ")
    assert "--backend-store-uri=sqlite:////mlflow/mlflow.db" in command
    assert "--artifacts-destination=/mlflow/artifacts" in command
    assert "mlflow:5000" in command  # the serving service's Host header is allowed
    makefile = (project_dir / "Makefile").read_text()
    assert "MLFLOW_VERSION=$$version docker compose up" in makefile


#: The GitLab job that pins a new champion, with its one-line refusal without the token.
CHAMPION_PIN_RULES = [
    {"if": '$CI_PIPELINE_SOURCE == "schedule" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'},
    {"if": '$CI_PIPELINE_SOURCE == "web" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'},
]


def test_a_new_champion_becomes_a_pull_request_only_with_mlflow_and_docker(
    project: Project, project_dir: Path
) -> None:
    """`make deploy-pin-commit`, and on GitHub the workflow that pushes its branch and opens the
    pull request: scheduled and on demand, the write permissions on its one job, no expression
    inside a script (the secrets and the token reach them through `env`)."""
    answers = project.answers
    pins = answers["tracking"] == "mlflow" and answers["docker"]
    makefile = (project_dir / "Makefile").read_text()
    assert ("\ndeploy-pin-commit: " in makefile) == pins
    workflow_path = project_dir / CHAMPION_PIN_WORKFLOW
    assert workflow_path.exists() == (pins and answers["ci"] == "github")
    if answers["ci"] == "gitlab":
        pipeline = yaml.safe_load((project_dir / ".gitlab-ci.yml").read_text())
        assert ("champion-pin" in pipeline) == pins
    if not pins:
        return
    recipe = makefile.split("\ndeploy-pin-commit: ", 1)[1].split("\n\n", 1)[0]
    assert "$(MAKE) --no-print-directory deploy-pin OVERLAY=$(PIN_OVERLAY)" in recipe
    assert "git push" not in recipe
    assert "PIN_OVERLAY ?= prod" in makefile
    guide = (project_dir / "docs" / "DEPLOYMENT.md").read_text()
    assert "### Pinning a new champion from CI" in guide
    if not workflow_path.exists():
        return
    workflow = yaml.safe_load(workflow_path.read_text())
    triggers = workflow[True]  # PyYAML reads the key `on` as True
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert re.fullmatch(r"\d+ \d+ \* \* \*", triggers["schedule"][0]["cron"])
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert job["timeout-minutes"] <= 30
    steps = job["steps"]
    assert steps[0]["with"] == {"persist-credentials": False}
    scripts = [step["run"] for step in steps if "run" in step]
    assert not [script for script in scripts if "${{" in script], "expressions in scripts"
    script = "\n".join(scripts)
    for needle in ("make install", "make --no-print-directory deploy-pin-commit", "gh pr create"):
        assert needle in script, needle
    assert "--force" not in script
    environment = {name: value for step in steps for name, value in step.get("env", {}).items()}
    assert environment["MLFLOW_TRACKING_URI"] == "${{ secrets.MLFLOW_TRACKING_URI }}"
    assert environment["GH_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"


def test_gitlab_pins_a_new_champion_with_a_project_access_token(tmp_path: Path) -> None:
    """ci=gitlab with MLflow and Docker (no answer set has all three): the job that pushes the
    branch `make deploy-pin-commit` made, opening its merge request with push options; without
    CHAMPION_PIN_TOKEN it stops at once with one line."""
    project = render(TEMPLATE_ROOT, tmp_path / "project", ci="gitlab")
    assert (project.answers["tracking"], project.answers["docker"]) == ("mlflow", True)
    files = _files(project.directory)
    assert "tests/integration/test_champion_pin.py" in files
    assert not [name for name in files if name.startswith(".github/")]
    pipeline = yaml.safe_load((project.directory / ".gitlab-ci.yml").read_text())
    job = pipeline["champion-pin"]
    assert job["rules"] == CHAMPION_PIN_RULES
    assert job["stage"] in pipeline["stages"]
    script = "\n".join(job["script"])
    assert "make --no-print-directory deploy-pin-commit" in script
    for option in ("merge_request.create", 'merge_request.target="$CI_DEFAULT_BRANCH"'):
        assert f"-o {option}" in script, option
    assert "CI_JOB_TOKEN" not in script
    assert "--force" not in script
    token_check, *install = job["before_script"]
    assert install[-1] == "make install"
    env = {"PATH": os.environ["PATH"], "MLFLOW_TRACKING_URI": "http://mlflow.example:5000"}
    refused = run(["bash", "-c", token_check], cwd=tmp_path, env=env, expect=1)
    assert refused.stdout == ""
    assert refused.stderr.startswith("champion-pin: no CHAMPION_PIN_TOKEN variable: add a ")
    assert len(refused.stderr.splitlines()) == 1, refused.stderr
    env |= {"CHAMPION_PIN_TOKEN": "glpat-example"}
    assert run(["bash", "-c", token_check], cwd=tmp_path, env=env).stderr == ""
    del env["MLFLOW_TRACKING_URI"]
    refused = run(["bash", "-c", token_check], cwd=tmp_path, env=env, expect=1)
    assert refused.stderr.startswith("champion-pin: no MLFLOW_TRACKING_URI variable: ")
    assert len(refused.stderr.splitlines()) == 1, refused.stderr
    guide = (project.directory / "docs" / "DEPLOYMENT.md").read_text()
    for needle in ("CHAMPION_PIN_TOKEN", "write_repository", "`api`", "Developer"):
        assert needle in guide, needle
