"""Renders of the template and what a render must hold.

The answer sets and copier's questions, ``render`` (the one way the suite renders), the exact
file list a render holds for its answers, and how to check a render's text: Jinja leftovers,
text answers, the names of its import contracts.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from copier import run_copy

from questions import copier_config as read_copier_config

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent

#: Named answer combinations (tests/answer-sets.yml); the names are the test ids.
ANSWER_SETS: dict[str, dict[str, object]] = yaml.safe_load(
    (Path(__file__).with_name("answer-sets.yml")).read_text()
)
#: The answer set the user journey renders, installs and checks with `make check`.
JOURNEY_SET = "defaults"
#: The answer set whose runner venv also holds the full `mlflow` (its `mlflow server`), so the
#: render's own test against a real tracking server runs there (it is skipped elsewhere).
MLFLOW_SERVER_SET = "classification-noci-bsd-py313-docker-longnames"


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
    configs/monitoring.yaml
    configs/train.yaml
    scripts/bench_alerts.py
    scripts/bench_core.py
    scripts/bench_feedback.py
    scripts/bench_monitoring.py
    scripts/bench_promotion.py
    scripts/bench_serving.py
    scripts/bench_tests.py
    scripts/update.py
    src/{package}/__init__.py
    src/{package}/__main__.py
    src/{package}/cli/__init__.py
    src/{package}/cli/loop.py
    src/{package}/cli/model.py
    src/{package}/cli/monitor.py
    src/{package}/cli/options.py
    src/{package}/cli/serve.py
    src/{package}/core/__init__.py
    src/{package}/core/bundle.py
    src/{package}/core/card.py
    src/{package}/core/config.py
    src/{package}/core/data.py
    src/{package}/core/estimators.py
    src/{package}/core/metrics.py
    src/{package}/core/models.py
    src/{package}/core/pipeline.py
    src/{package}/core/profile.py
    src/{package}/core/promotion.py
    src/{package}/core/reports.py
    src/{package}/core/schema.py
    src/{package}/core/training.py
    src/{package}/core/workflow.py
    src/{package}/monitoring/__init__.py
    src/{package}/monitoring/calibration.py
    src/{package}/monitoring/config.py
    src/{package}/monitoring/html_report.py
    src/{package}/monitoring/inputs.py
    src/{package}/monitoring/labels.py
    src/{package}/monitoring/loop.py
    src/{package}/monitoring/monitor.py
    src/{package}/monitoring/report.py
    src/{package}/monitoring/retraining.py
    src/{package}/monitoring/samples.py
    src/{package}/monitoring/statistics.py
    src/{package}/monitoring/verdicts.py
    src/{package}/py.typed
    src/{package}/serving/__init__.py
    src/{package}/serving/app.py
    src/{package}/serving/metrics.py
    src/{package}/serving/middleware.py
    src/{package}/serving/model_server.py
    src/{package}/serving/prediction_log.py
    src/{package}/serving/routes.py
    src/{package}/serving/runtime.py
    src/{package}/serving/schemas.py
    src/{package}/serving/scoring.py
    src/{package}/serving/settings.py
    src/{package}/serving/shadow.py
    src/{package}/serving/startup.py
    tests/__init__.py
    tests/conftest.py
    tests/integration/__init__.py
    tests/integration/conftest.py
    tests/integration/test_alert_rates.py
    tests/integration/test_cli.py
    tests/integration/test_hostile_requests.py
    tests/integration/test_labels_volume.py
    tests/integration/test_live_performance.py
    tests/integration/test_loop.py
    tests/integration/test_loop_scenario.py
    tests/integration/test_model_card.py
    tests/integration/test_monitor_cli.py
    tests/integration/test_pipeline.py
    tests/integration/test_provenance.py
    tests/integration/test_server.py
    tests/integration/test_shadow_serving.py
    tests/unit/__init__.py
    tests/unit/core/__init__.py
    tests/unit/core/test_bundle.py
    tests/unit/core/test_card.py
    tests/unit/core/test_config.py
    tests/unit/core/test_data.py
    tests/unit/core/test_estimators.py
    tests/unit/core/test_metrics.py
    tests/unit/core/test_pipeline.py
    tests/unit/core/test_profile.py
    tests/unit/core/test_promotion.py
    tests/unit/core/test_schema.py
    tests/unit/core/test_training.py
    tests/unit/core/test_workflow.py
    tests/unit/monitoring/__init__.py
    tests/unit/monitoring/conftest.py
    tests/unit/monitoring/test_config.py
    tests/unit/monitoring/test_drift_catalogue.py
    tests/unit/monitoring/test_html_report.py
    tests/unit/monitoring/test_inputs.py
    tests/unit/monitoring/test_labels.py
    tests/unit/monitoring/test_monitor.py
    tests/unit/monitoring/test_report.py
    tests/unit/monitoring/test_retraining.py
    tests/unit/monitoring/test_statistics.py
    tests/unit/monitoring/test_verdicts.py
    tests/unit/serving/__init__.py
    tests/unit/serving/conftest.py
    tests/unit/serving/test_app.py
    tests/unit/serving/test_metrics.py
    tests/unit/serving/test_model_card.py
    tests/unit/serving/test_model_server.py
    tests/unit/serving/test_prediction_log.py
    tests/unit/serving/test_record_ids.py
    tests/unit/serving/test_schemas.py
    tests/unit/serving/test_scoring.py
    tests/unit/serving/test_settings.py
    tests/unit/serving/test_shadow.py
    tests/unit/serving/test_startup.py
"""

#: Files of the generated code, its tests and docs that only ``tracking: mlflow`` renders hold
#: (MLflow runs and registry); a ``tracking: none`` render has no trace of MLflow.
MLFLOW_CODE = """
    src/{package}/cli/registry.py
    src/{package}/core/tracking.py
    tests/integration/test_registry_cli.py
    tests/integration/test_tracking_server.py
    tests/tracking_fixtures.py
    tests/unit/core/test_tracking.py
    tests/unit/monitoring/test_registered_reference.py
    tests/unit/serving/test_registered_model.py
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
    docs/LOOP.md
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


#: Files only renders with ``tracking: mlflow`` and ``docker: true`` hold: `make deploy-pin-commit`
#: turns a new champion into a branch that pins it in an overlay (its test; on GitHub, the
#: workflow that pushes the branch and opens its pull request).
CHAMPION_PIN_FILES = frozenset({"tests/integration/test_champion_pin.py"})
CHAMPION_PIN_WORKFLOW = ".github/workflows/champion-pin.yml"

#: What `ci: github` adds to a render with copier's defaults (tracking: mlflow, docker: true);
#: without both, the champion-pin workflow is not among them.
GITHUB_FILES = frozenset(
    {
        ".github/dependabot.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/template-update.yml",
        CHAMPION_PIN_WORKFLOW,
    }
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
    champion_pin = answers["tracking"] == "mlflow" and answers["docker"]
    if champion_pin:
        files |= CHAMPION_PIN_FILES
    if answers["ci"] == "github":
        files |= GITHUB_FILES if champion_pin else GITHUB_FILES - {CHAMPION_PIN_WORKFLOW}
    if answers["ci"] == "gitlab":
        files.add(".gitlab-ci.yml")
    return files


# -- the text a render holds

#: The names of the import contracts in a render's pyproject.toml, as `lint-imports` reports them.
LAYERS = "Layers: cli above serving and monitoring, both above core"
INDEPENDENCE = "Independence: serving and monitoring never import each other"
DOMAIN = "Core's domain modules never import its storage or workflow modules"

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
