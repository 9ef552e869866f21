"""The template's docs site: `mkdocs build --strict` passes, and its questions page is generated.

The page must list every question copier asks (``rendering.copier_config``), each with its default
and choices, and follow copier.yml when it changes. No renders: each build takes about a second.
"""

import html
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mkdocs.exceptions import PluginError

from questions import rules
from rendering import TEMPLATE_ROOT, copier_config
from runners import run

ENV = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
EXTRA_QUESTION = """
zz_extra:
  type: str
  help: A question only this test adds
  choices:
    First label: first-value
    Second label: second-value
  default: second-value
  validator: |-
    {% if zz_extra == 'first-value' %}zz_extra may not be first-value here.
    {% endif %}
"""


def build(root: Path, site: Path) -> str:
    """Build ``root``'s docs site strictly into ``site``; return the questions page's HTML."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"]
    run([*command, "--config-file", str(root / "mkdocs.yml"), "--site-dir", str(site)], env=ENV)
    return (site / "questions" / "index.html").read_text()


def section_text(page: str, name: str) -> str:
    """The text of question ``name``'s section: from its heading to the next one, tags dropped."""
    heading = re.search(rf'<h2 id="{re.escape(name)}">', page)
    assert heading, f"the questions page has no section for {name!r}"
    end = page.find("<h2", heading.end())
    return html.unescape(re.sub(r"<[^>]+>", "", page[heading.start() : end if end > 0 else None]))


def shown(value: object) -> str:
    """A value as the page prints it (YAML booleans in lower case)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def choice_values(spec: dict[str, Any]) -> list[Any]:
    """The values of a question's choices (a list, or labels mapped to values)."""
    raw = spec.get("choices") or []
    return list(raw.values()) if isinstance(raw, dict) else list(raw)


def assert_lists_questions(page: str, config: dict[str, Any]) -> None:
    """Each asked question of ``config`` has a section with its help, default and choices."""
    asked = {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and isinstance(spec, dict) and spec.get("when") is not False
    }
    assert asked
    for name, spec in asked.items():
        text = section_text(page, name)
        assert str(spec["help"]) in text, f"{name}: help text missing"
        assert f"Default: {shown(spec['default'])}" in text, f"{name}: default missing"
        for value in choice_values(spec):
            assert shown(value) in text, f"{name}: choice {value!r} missing"


def test_site_builds_strictly_and_lists_every_question(tmp_path: Path) -> None:
    page = build(TEMPLATE_ROOT, tmp_path / "site")
    config = copier_config()
    assert_lists_questions(page, config)
    computed = [
        name
        for name, spec in config.items()
        if isinstance(spec, dict) and spec.get("when") is False
    ]
    assert computed
    for name in computed:
        assert f'<h3 id="{name}">' in page, f"computed value {name!r} is not listed"
    for name in ("index", "generated-project", "UPDATING", "releases", "DESIGN", "figures"):
        assert (tmp_path / "site" / ("" if name == "index" else name) / "index.html").is_file()


def test_questions_page_follows_copier_yml(tmp_path: Path) -> None:
    """A question added to copier.yml appears on the page, with its rule, at the next build."""
    root = tmp_path / "template"
    shutil.copytree(TEMPLATE_ROOT / "docs", root / "docs")
    for name in ("mkdocs.yml", "copier.yml", "copier-computed.yml"):
        shutil.copy2(TEMPLATE_ROOT / name, root / name)
    with (root / "copier.yml").open("a") as copier_yml:
        copier_yml.write(EXTRA_QUESTION)
    page = build(root, tmp_path / "site")
    assert_lists_questions(page, copier_config() | yaml.safe_load(EXTRA_QUESTION))
    rule = section_text(page, "zz_extra")
    assert "zz_extra == 'first-value'" in rule
    assert "zz_extra may not be first-value here." in rule


def test_a_validator_off_the_convention_stops_the_build() -> None:
    validator = "{% if a %}bad\n{% for x in y %}{{ x }}{% endfor %}\n{% endif %}"
    with pytest.raises(PluginError, match=r"validator of 'broken' has a line that is not"):
        rules("broken", validator, [])
