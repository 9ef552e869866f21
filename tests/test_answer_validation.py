"""Bad answers fail with the validator's message and leave nothing behind."""

import json
import keyword
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from rendering import TEMPLATE_ROOT, Project, copier_config, render
from runners import locked_requirements, normalized, run, uv_command, version_key

BAD_ANSWERS = {
    "package-starts-with-digit": (
        {"package_name": "1abc"},
        "not a valid lowercase Python identifier",
    ),
    "package-keyword": ({"package_name": "class"}, "is a Python keyword"),
    "package-hyphen": ({"package_name": "my-pkg"}, "not a valid lowercase Python identifier"),
    "package-uppercase": ({"package_name": "MyPkg"}, "not a valid lowercase Python identifier"),
    "package-shadows-sklearn": ({"package_name": "sklearn"}, "would shadow a dependency"),
    "package-shadows-test": ({"package_name": "test"}, "would shadow"),
    "package-shadows-stdlib": ({"package_name": "json"}, "would shadow the standard-library"),
    "package-too-long": ({"package_name": "a" * 41}, "41 characters long: use at most 40"),
    "slug-too-long": ({"project_slug": "a" * 41}, "41 characters long: use at most 40"),
    "empty-project-name": ({"project_name": ""}, "project_name must not be empty"),
    "blank-project-name": ({"project_name": "   "}, "project_name must not be empty"),
    "newline-in-project-name": (
        {"project_name": "Churn\nModel"},
        'project_name contains the control character "\\\\n": use one line of printable text',
    ),
    "carriage-return-in-project-name": ({"project_name": "Churn\r"}, r'character "\\r"'),
    "tab-in-description": ({"description": "one\ttwo"}, r'description contains .* "\\t"'),
    "line-separator-in-description": ({"description": "one\u2028two"}, r'"\\u2028"'),
    "nul-in-author": ({"author_name": "Bob\x00"}, r'author_name contains .* "\\u0000"'),
    "escape-in-author": ({"author_name": "Bob\x1b[31m"}, r'"\\u001b"'),
    "padded-project-name": ({"project_name": " Churn "}, "must not start or end with whitespace"),
    "padded-author": ({"author_name": "Bob "}, "must not start or end with whitespace"),
    "project-name-long-once-escaped": (
        {"project_name": 'A "' + "b" * 55 + '"'},
        "project_name is 69 characters long: use at most 60",
    ),
    "package-with-trailing-newline": (
        {"package_name": "churn\n"},
        "not a valid lowercase Python identifier",
    ),
    "slug-with-trailing-newline": ({"project_slug": "churn\n"}, "is not allowed"),
    "email-with-trailing-newline": (
        {"author_email": "bob@example.com\n"},
        "is not a valid email address",
    ),
    "package-shadows-indirect-dependency": (
        {"package_name": "typing_extensions"},
        "would shadow a dependency",
    ),
    "slug-with-underscore": ({"project_slug": "my_slug"}, "project_slug 'my_slug' is not allowed"),
    "slug-trailing-hyphen": (
        {"project_slug": "my-slug-"},
        "project_slug 'my-slug-' is not allowed",
    ),
    "malformed-email": ({"author_email": "bob@"}, "is not a valid email address"),
    "email-without-at": ({"author_email": "bob.example.com"}, "is not a valid email address"),
    "empty-author": ({"author_name": ""}, "author_name must not be empty"),
    "multi-line-description": ({"description": "one\ntwo"}, "control character"),
    "unknown-python": ({"python_version": "3.9"}, "'3.9' is not in"),
    "unknown-task": ({"model_task": "clustering"}, "'clustering' is not in"),
    "unknown-ci": ({"ci": "jenkins"}, "'jenkins' is not in"),
    "unknown-license": ({"license": "GPL"}, "'GPL' is not in"),
}


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_bad_answer_is_refused_with_its_message(
    answers: dict[str, object], message: str, tmp_path: Path
) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=message) as error:
        render(TEMPLATE_ROOT, destination, **answers)
    question = next(iter(answers))
    assert question in str(error.value)
    assert not destination.exists()


def test_text_answers_may_hold_quotes_backslashes_and_jinja_text(tmp_path: Path) -> None:
    answers = {
        "project_name": 'Churn "Risk" \\ Model',
        "description": "Predicts \"churn\" for C:\\data & {{ x }} {% y %}, O'Brien's café.",
        "author_name": 'Zoë "Z" O\'Brien \\ Team',
    }
    recorded = render(TEMPLATE_ROOT, tmp_path / "project", **answers).answers
    assert {question: recorded[question] for question in answers} == answers
    assert recorded["project_slug"] == "churn-risk-model"


def test_derived_defaults_follow_the_project_name(tmp_path: Path) -> None:
    project = render(TEMPLATE_ROOT, tmp_path / "project", project_name="Fraud Score: EU 2!")
    assert project.answers["project_slug"] == "fraud-score-eu-2"
    assert project.answers["package_name"] == "fraud_score_eu_2"
    assert (project.directory / "src" / "fraud_score_eu_2" / "cli" / "__init__.py").is_file()


def _reserved(name: str) -> list[str]:
    default: str = copier_config()[name]["default"]
    return default.split()


def test_reserved_names_cover_keywords_and_the_standard_library() -> None:
    stdlib = {name.lower() for name in sys.stdlib_module_names if not name.startswith("_")}
    assert stdlib <= set(_reserved("stdlib_module_names"))
    keywords = {word.lower() for word in (*keyword.kwlist, *keyword.softkwlist) if word != "_"}
    assert keywords <= set(_reserved("python_keywords"))


#: Run by a venv's python: the names of its distributions and their top-level import names.
INSPECT_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; print(json.dumps({"
    "'distributions': [d.metadata['Name'] for d in m.distributions()], "
    "'modules': m.packages_distributions()}))"
)


def _inspect(venv: Path, extra_path: Path) -> dict[str, Any]:
    """Distributions and import names that ``venv``'s python sees (plus ``extra_path``)."""
    command = [str(venv / "bin" / "python"), "-c", INSPECT_DISTRIBUTIONS]
    inspected: dict[str, Any] = json.loads(run(command, env={"PYTHONPATH": str(extra_path)}).stdout)
    return inspected


def test_reserved_names_cover_every_import_name_in_the_lock(
    project: Project, project_dir: Path, venv: Path, tmp_path: Path
) -> None:
    """A package named like a module of any distribution the render's lock pins would shadow it.

    The render's ``uv.lock`` is the universal resolution (every platform and Python it supports)
    that ``make install`` installs from: the runner venv holds this machine's share, the rest
    (e.g. Windows-only distributions) is unpacked beside it. Only locked distributions count: a
    runner venv may hold more (the full ``mlflow`` for the tracking-server test).
    """
    elsewhere = tmp_path / "elsewhere"
    resolved = locked_requirements(project_dir, hashes=False)
    assert resolved, "the render ships no uv.lock"
    locked = {line.split(";")[0].strip() for line in resolved.splitlines() if "==" in line}
    uv = uv_command()
    installed = {normalized(name) for name in _inspect(venv, elsewhere)["distributions"]}
    missing_here = sorted(pin for pin in locked if pin.split("==")[0] not in installed)
    if missing_here:
        newest = max(copier_config()["python_version"]["choices"], key=version_key)
        unpack = ["pip", "install", "--quiet", "--no-deps", "--python-version", newest]
        run([*uv, *unpack, "--target", str(elsewhere), *missing_here])
    # mypyc names its helper modules after a hash that changes with every release.
    locked_names = {normalized(pin.split("==")[0]) for pin in locked}
    choosable = {
        name.lower()
        for name, distributions in _inspect(venv, elsewhere)["modules"].items()
        if re.fullmatch(r"[a-z][a-z0-9_]*", name.lower())
        and not name.endswith("__mypyc")
        and locked_names & {normalized(distribution) for distribution in distributions}
    }
    reserved = {*_reserved("dependency_module_names"), *_reserved("stdlib_module_names")}
    unreserved = sorted(choosable - reserved)
    assert not unreserved, (
        f"add to dependency_module_names in copier-computed.yml: {' '.join(unreserved)}"
    )


def test_dependency_names_are_sorted_and_unique() -> None:
    names = _reserved("dependency_module_names")
    assert names == sorted(set(names))
