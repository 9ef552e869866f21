"""mkdocs hook: the questions page, generated from copier.yml at build time.

questions.md holds the prose; the text between its two markers is replaced by every question of
copier.yml (type, help, default, choices, validator rules) and the computed values it uses, so the
page cannot drift from the template. The validators follow copier.yml's convention: one
``{% if/elif condition %}message`` per line, optionally after ``{% set name = value %}`` lines; a
line of any other form stops the build, naming the question.
"""

import re
import textwrap
from pathlib import Path
from typing import Any

import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

PAGE = "questions.md"
START, END = "<!-- questions:start -->", "<!-- questions:end -->"
RULE = re.compile(r"\{%-?\s*(?:if|elif)\s+(?P<condition>.+?)\s*-?%\}(?P<message>.*)")
SET = re.compile(r"\{%-?\s*set\s+(?P<name>\w+)\s*=\s*(?P<value>.+?)\s*-?%\}")
ENDIF = re.compile(r"\{%-?\s*endif\s*-?%\}")


def copier_config(root: Path) -> dict[str, Any]:
    """copier.yml as copier reads it: its documents merged, each ``!include`` in place."""

    class Loader(yaml.SafeLoader):
        """SafeLoader that reads ``!include file`` as that file's documents."""

    def include(loader: yaml.SafeLoader, node: yaml.Node) -> list[Any]:
        return list(yaml.load_all((root / str(node.value)).read_text(), Loader=Loader))

    Loader.add_constructor("!include", include)
    config: dict[str, Any] = {}
    for document in yaml.load_all((root / "copier.yml").read_text(), Loader=Loader):
        for part in document if isinstance(document, list) else [document]:
            config |= part or {}
    return config


def code(text: object) -> str:
    """``text`` as a Markdown code span, whatever backticks it holds."""
    value = str(text).lower() if isinstance(text, bool) else str(text)
    ticks = "`" * (max((len(run) for run in re.findall("`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def choices(spec: dict[str, Any]) -> list[str]:
    """Choice lines: the value as code, then copier's label when it differs."""
    raw = spec.get("choices") or []
    pairs = raw.items() if isinstance(raw, dict) else ((value, value) for value in raw)
    return [
        f"    - {code(value)}" + ("" if str(label) == str(value) else f": {label}")
        for label, value in pairs
    ]


def rules(name: str, validator: str, computed: list[str]) -> list[str]:
    """The validator as a table of conditions and messages, plus its helper values."""
    table = ["| Refused when | Message |", "| --- | --- |"]
    helpers = []
    for line in filter(None, (line.strip() for line in validator.splitlines())):
        if rule := RULE.fullmatch(line):
            table.append(f"| {code(rule['condition'])} | {code(rule['message'].strip())} |")
        elif assignment := SET.fullmatch(line):
            helpers.append(f"{code(assignment['name'])} is {code(assignment['value'])}")
        elif not ENDIF.fullmatch(line):
            raise PluginError(
                f"copier.yml: the validator of {name!r} has a line that is not "
                f"'{{% if/elif condition %}}message', '{{% set name = value %}}' or "
                f"'{{% endif %}}': {line!r}"
            )
    lines = [
        "The rules are checked in order; the first that holds stops copier with its message "
        "before any file is written.",
        "",
        *table,
    ]
    if helpers:
        lines += ["", "Where " + "; ".join(helpers) + "."]
    used = [value for value in computed if re.search(rf"\b{value}\b", validator)]
    if used:
        links = ", ".join(f"[{code(value)}](#{value})" for value in used)
        lines += ["", f"Computed values used: {links}."]
    return lines


def question(name: str, spec: dict[str, Any], computed: list[str]) -> list[str]:
    """One question's section."""
    lines = [f"## {code(name)}", "", str(spec.get("help", "")).strip(), ""]
    lines.append(f"- Type: {code(spec.get('type', 'yaml'))}")
    if "default" in spec:
        lines.append(f"- Default: {code(spec['default'])}")
    if "placeholder" in spec:
        lines.append(f"- Placeholder: {code(spec['placeholder'])}")
    if "choices" in spec:
        lines += ["- Choices:", *choices(spec)]
    lines.append("")
    if "validator" in spec:
        lines += [*rules(name, str(spec["validator"]), computed), ""]
    return lines


def computed_value(name: str, spec: dict[str, Any]) -> list[str]:
    """One computed value: its name and its value, folded to fit a code block."""
    value = str(spec.get("default", ""))
    words = len(value.split())
    summary = f"{words} space-separated names" if words > 1 else "a regular expression"
    return [
        f"### {code(name)}",
        "",
        f'??? note "{code(spec.get("type", "yaml"))}, {summary}"',
        "",
        "    ```text",
        *(f"    {line}" for line in textwrap.wrap(value, 96) or [""]),
        "    ```",
        "",
    ]


def questions_markdown(root: Path) -> str:
    """Every question of copier.yml, then its computed values, as Markdown."""
    entries = {
        name: spec
        for name, spec in copier_config(root).items()
        if not name.startswith("_") and isinstance(spec, dict)
    }
    computed = [name for name, spec in entries.items() if spec.get("when") is False]
    asked = [name for name in entries if name not in computed]
    summary = ["| Question | Type | Default |", "| --- | --- | --- |"]
    summary += [
        f"| [{code(name)}](#{name}) | {code(entries[name].get('type', 'yaml'))} | "
        f"{code(entries[name].get('default', ''))} |"
        for name in asked
    ]
    lines = [*summary, ""]
    for name in asked:
        lines += question(name, entries[name], computed)
    lines += [
        "## Computed values",
        "",
        "Never asked (`when: false`) and never stored in `.copier-answers.yml`: the validators "
        "above read them. They live in `copier-computed.yml`, included as the first document of "
        "`copier.yml`.",
        "",
    ]
    for name in computed:
        lines += computed_value(name, entries[name])
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace the marked region of the questions page with the generated list."""
    if page.file.src_uri != PAGE:
        return markdown
    start, end = markdown.find(START), markdown.find(END)
    if start < 0 or end < start:
        raise PluginError(f"{PAGE} must hold the markers {START} and {END}, in that order")
    root = Path(config.config_file_path).parent
    return markdown[:start] + questions_markdown(root) + markdown[end + len(END) :]
