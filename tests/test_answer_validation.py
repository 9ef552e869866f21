"""Bad answers fail with the validator's message and leave nothing behind."""

import keyword
import sys
from pathlib import Path

import pytest
import yaml
from copier import run_copy

from helpers import TEMPLATE_ROOT

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
    "quote-in-project-name": ({"project_name": 'A "B"'}, "must not contain double quotes"),
    "slug-with-underscore": ({"project_slug": "my_slug"}, "project_slug 'my_slug' is not allowed"),
    "slug-trailing-hyphen": (
        {"project_slug": "my-slug-"},
        "project_slug 'my-slug-' is not allowed",
    ),
    "malformed-email": ({"author_email": "bob@"}, "is not a valid email address"),
    "email-without-at": ({"author_email": "bob.example.com"}, "is not a valid email address"),
    "empty-author": ({"author_name": ""}, "author_name must not be empty"),
    "multi-line-description": ({"description": "one\ntwo"}, "must be a single line"),
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
        run_copy(
            str(TEMPLATE_ROOT), destination, data=answers, defaults=True, vcs_ref="HEAD", quiet=True
        )
    question = next(iter(answers))
    assert question in str(error.value)
    assert not destination.exists()


def test_derived_defaults_follow_the_project_name(tmp_path: Path) -> None:
    run_copy(
        str(TEMPLATE_ROOT),
        tmp_path,
        data={"project_name": "  Fraud Score: EU 2!  "},
        defaults=True,
        vcs_ref="HEAD",
        quiet=True,
    )
    answers = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "fraud-score-eu-2"
    assert answers["package_name"] == "fraud_score_eu_2"
    assert (tmp_path / "src" / "fraud_score_eu_2" / "cli.py").is_file()


def _reserved(name: str) -> list[str]:
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    default: str = config[name]["default"]
    return default.split()


def test_reserved_names_cover_keywords_and_the_standard_library() -> None:
    stdlib = {name.lower() for name in sys.stdlib_module_names if not name.startswith("_")}
    assert stdlib <= set(_reserved("stdlib_module_names"))
    keywords = {word.lower() for word in (*keyword.kwlist, *keyword.softkwlist) if word != "_"}
    assert keywords <= set(_reserved("python_keywords"))
