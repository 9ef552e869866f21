"""Model cards: what a version is, what it was trained on, how it scored, and how to remake it.

:func:`make_card` builds the card with ``skops.card`` from what the bundle records (metadata and
reference profile) and the ``card:`` section of the training config, in this order: model
details, intended use, limitations, training data, evaluation (with a confusion matrix or
residual figure), performance by slice, live monitoring (only in the card ``monitor`` writes)
and how to reproduce it. Its HTML is the Markdown rendered by markdown-it with raw HTML off,
so nothing in the card becomes markup: every value taken from config or data is escaped for
Markdown first (:func:`escape`). ``train`` saves the card in the bundle, covered by its
digests; ``card`` and ``monitor --card`` write one beside it (:func:`write_card`).

The figure is drawn with matplotlib, imported only when a card is made. In a read-only
container set ``MPLCONFIGDIR`` to a writable folder (the image sets ``/tmp/matplotlib``).
"""

import base64
import io
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape as escape_html
from pathlib import Path
from typing import Any

import yaml
from sklearn.pipeline import Pipeline

from .bundle import CARD_FIGURE, CARD_HTML, CARD_MARKDOWN, ModelMetadata
from .config import CardConfig
from .data import write_text_atomically
from .profile import CategoricalProfile, ReferenceProfile
from .training import EvaluationDetails

#: Longest value taken from data (a column name, a category) shown in a card, in characters.
MAX_VALUE_LENGTH = 80
#: Categories listed per categorical column of the training data, the most frequent first.
LISTED_CATEGORIES = 5
#: The command that trains a version from a config, for the "How to reproduce" section.
TRAIN_COMMAND = f"uv run python -m {__name__.partition('.')[0]} train --config configs/train.yaml"
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222;
line-height:1.45;overflow-wrap:anywhere}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;font-size:.9rem}
h1{border-bottom:2px solid #1e88e5}h2{border-bottom:1px solid #ddd;margin-top:2rem}
pre{background:#f5f5f5;padding:.5rem;overflow-x:auto}img{max-width:100%;height:auto}
"""
#: No script, frame, font or request of any kind: styles inline and the figure as a data URI.
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_PUNCTUATION = frozenset(string.punctuation)


@dataclass(frozen=True)
class LiveSummary:
    """The latest monitoring run, for the card that ``monitor --card`` writes beside its report."""

    generated_at: datetime
    #: The drift verdict (ok, warn, alert) and the report's summary sentences.
    status: str
    summary: str
    #: (column, verdict) of every column that warns or alerts.
    drifted: list[tuple[str, str]] = field(default_factory=list)
    #: The live performance verdict and rows, and (metric, baseline, current, limit) rows.
    performance_status: str | None = None
    performance_rows: int = 0
    metrics: list[tuple[str, float, float | None, float]] = field(default_factory=list)


def recorded_text(metadata: ModelMetadata) -> CardConfig:
    """The ``card:`` section a version was trained with (the defaults before 0.17.0)."""
    recorded = (metadata.training_config or {}).get("card")
    return CardConfig.model_validate(recorded) if isinstance(recorded, dict) else CardConfig()


def escape(value: object, *, limit: int | None = None) -> str:
    """``value`` as Markdown text that renders as itself: every ASCII punctuation escaped.

    Line breaks become spaces (a card value is one line); with ``limit`` a longer text is cut
    and ends with an ellipsis.
    """
    text = " ".join(str(value).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join("\\" + char if char in _PUNCTUATION else char for char in text)


def paragraphs(text: str) -> str:
    """Free text from the config as escaped Markdown paragraphs (blank lines separate them)."""
    blocks = [" ".join(block.split()) for block in text.replace("\r", "").split("\n\n")]
    return "\n\n".join(escape(block) for block in blocks if block)


def make_card(
    metadata: ModelMetadata,
    profile: ReferenceProfile,
    model: Pipeline,
    text: CardConfig,
    *,
    live: LiveSummary | None = None,
    registered: str | None = None,
) -> dict[str, bytes]:
    """The card files of a version: ``card.md``, ``card.html`` and, with a figure, ``card.svg``.

    ``registered`` names the registered version the bundle was fetched as (``models:/<name>/<n>``).
    """
    from skops.card import Card

    card = Card(model, model_diagram=False, template=None)
    # One title (h1) with the sections under it (h2, h3).
    card.add(**{"Model card": f"{escape(metadata.name)} version {escape(metadata.version)}"})
    _details(card, metadata, registered)
    card.add(**{"Model card/Intended use": paragraphs(text.intended_use)})
    card.add(**{"Model card/Limitations": paragraphs(text.limitations)})
    _training_data(card, metadata, profile)
    figure = _evaluation(card, metadata)
    card.add(**{"Model card/Performance by slice": _slices(metadata, text)})
    if live is not None:
        _live(card, live)
    card.add(**{"Model card/How to reproduce": _reproduce(metadata)})
    markdown = card.render().strip() + "\n"
    files = {CARD_MARKDOWN: markdown.encode()}
    if figure is not None:
        files[CARD_FIGURE] = figure
    plain_title = f"Model card: {metadata.name} version {metadata.version}"
    files[CARD_HTML] = render_html(markdown, plain_title, figure).encode()
    return files


def render_html(markdown: str, title: str, figure: bytes | None = None) -> str:
    """A self-contained page of ``markdown``: raw HTML off, the figure inlined as a data URI."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(markdown)
    if figure is not None:
        inline = "data:image/svg+xml;base64," + base64.b64encode(figure).decode()
        for token in tokens:
            for child in token.children or []:
                if child.type == "image" and child.attrGet("src") == CARD_FIGURE:
                    child.attrSet("src", inline)
    body = parser.renderer.render(tokens, parser.options, {})
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CONTENT_SECURITY_POLICY}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape_html(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}</body></html>\n"
    )


def write_card(files: Mapping[str, bytes], directory: Path, *, bundle: Path) -> list[Path]:
    """Write card ``files`` into ``directory``, which must not be inside the ``bundle`` folder.

    Raises:
        ValueError: when ``directory`` is the bundle or inside it: a bundle's files are
            covered by its digests and never change.
    """
    if directory.resolve().is_relative_to(bundle.resolve()):
        raise ValueError(
            f"{directory} is inside the model bundle {bundle}, whose files never change: "
            "write the card beside it (--output)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = directory / name
        write_text_atomically(path, content.decode())
        written.append(path)
    if CARD_FIGURE not in files:  # a figure of an earlier card here would not be this card's
        (directory / CARD_FIGURE).unlink(missing_ok=True)
    return written


# The sections. Every value from config or data goes through escape(); numbers are formatted.


def _details(card: Any, metadata: ModelMetadata, registered: str | None) -> None:
    code = (
        f"git commit {escape(metadata.git_commit)}"
        if metadata.git_commit
        else f"image {escape(metadata.image)}"
        if metadata.image
        else "not recorded (no git commit or image)"
    )
    rows = {
        "Name": escape(metadata.name),
        "Version": escape(metadata.version),
        "Task": metadata.task,
        "Estimator": escape(metadata.estimator),
        "Trained at": metadata.created_at.isoformat(timespec="seconds"),
        "Seed": str(metadata.seed),
        "Target": escape(metadata.target, limit=MAX_VALUE_LENGTH),
        "Classes": ", ".join(escape(label, limit=MAX_VALUE_LENGTH) for label in metadata.classes)
        or "none (regression)",
        "Code": code,
    }
    if registered is not None:
        rows["Registered as"] = escape(registered)
    card.add(**{"Model card/Model details": _table(["Field", "Value"], rows.items())})
    params = sorted(metadata.params.items())
    card.add(
        **{
            "Model card/Model details/Hyperparameters": _table(
                ["Parameter", "Value"],
                [(escape(name), escape(value, limit=MAX_VALUE_LENGTH)) for name, value in params],
            )
            if params
            else "The estimator's defaults."
        }
    )
    versions = sorted(metadata.package_versions.items())
    card.add(
        **{
            "Model card/Model details/Library versions": _table(
                ["Package", "Version"], [(escape(name), escape(v)) for name, v in versions]
            )
        }
    )


def _training_data(card: Any, metadata: ModelMetadata, profile: ReferenceProfile) -> None:
    ids = ", ".join(escape(name) for name in metadata.feature_schema.ids) or "none"
    card.add(
        **{
            "Model card/Training data": (
                f"{profile.rows:,} training rows; target column {escape(metadata.target)}; "
                f"id columns (never features): {ids}."
            )
        }
    )
    files = [
        (role, escape(data.path, limit=MAX_VALUE_LENGTH), f"{data.rows:,}", f"`{data.sha256}`")
        for role, data in sorted(metadata.data.items())
    ]
    card.add(
        **{"Model card/Training data/Files": _table(["Role", "Path", "Rows", "SHA-256"], files)}
    )
    columns = []
    for column in metadata.feature_schema.columns:
        summary = profile.features.get(column.name)
        if summary is None:
            continue
        if isinstance(summary, CategoricalProfile):
            shares = sorted(summary.frequencies.items(), key=lambda item: -item[1])
            listed = ", ".join(
                f"{escape(name, limit=MAX_VALUE_LENGTH)} ({100 * share:.1f}%)"
                for name, share in shares[:LISTED_CATEGORIES]
            )
            more = len(shares) - LISTED_CATEGORIES
            values = listed + (f" and {more} more" if more > 0 else "")
        else:
            values = f"{summary.minimum:.4g} to {summary.maximum:.4g} (median {_median(summary)})"
        columns.append(
            (
                escape(column.name, limit=MAX_VALUE_LENGTH),
                column.kind,
                values,
                f"{100 * summary.missing_share:.1f}%",
            )
        )
    card.add(
        **{
            "Model card/Training data/Columns": _table(
                ["Column", "Type", "Range or categories", "Missing"], columns
            )
        }
    )


def _median(summary: Any) -> str:
    median = summary.quantiles.get("p50")
    return "unknown" if median is None else f"{median:.4g}"


def _evaluation(card: Any, metadata: ModelMetadata) -> bytes | None:
    gate = metadata.quality_gate
    verdict = (
        "passed"
        if gate.passed
        else "failed: " + "; ".join(escape(failure) for failure in gate.failures)
    )
    bounds = metadata.training_config.get("quality_gate", {}) if metadata.training_config else {}
    card.add(
        **{
            "Model card/Evaluation": (
                f"Scored on {escape(metadata.evaluation)}. The quality gate {verdict}."
            )
        }
    )
    rows = []
    for name, value in sorted(metadata.metrics.items()):
        bound = bounds.get(name) or {}
        limits = [
            f"{word} {bound[key]:.4g}"
            for key, word in (("min", "at least"), ("max", "at most"))
            if isinstance(bound.get(key), int | float)
        ]
        rows.append((name, f"{value:.4f}", ", ".join(limits) or "no bound"))
    card.add(**{"Model card/Evaluation/Metrics": _table(["Metric", "Value", "Quality gate"], rows)})
    details = metadata.evaluation_details
    if details is None:
        card.add(
            **{
                "Model card/Evaluation/Figure": "This version was trained before model cards "
                "(0.17.0): its bundle does not record the scoring rows' confusion matrix or "
                "residuals."
            }
        )
        return None
    figure = draw_figure(details)
    if details.confusion_matrix is not None:
        matrix = details.confusion_matrix
        header = ["True \\\\ predicted", *(escape(label, limit=20) for label in matrix.labels)]
        counts = [
            (escape(label, limit=20), *(f"{count:,}" for count in row))
            for label, row in zip(matrix.labels, matrix.counts, strict=True)
        ]
        name, alt = "Confusion matrix", f"Confusion matrix of the {details.rows:,} scoring rows"
        table = _table(header, counts)
    else:
        name, alt = (
            "Residuals",
            f"Residuals by predicted value on the {details.rows:,} scoring rows",
        )
        table = _table(
            ["Predicted from", "to", "Rows", "Median residual", "Middle 90% of residuals"],
            [
                (
                    f"{b.low:.4g}",
                    f"{b.high:.4g}",
                    f"{b.rows:,}",
                    f"{b.quantiles['p50']:.4g}",
                    f"{b.quantiles['p05']:.4g} to {b.quantiles['p95']:.4g}",
                )
                for b in details.residuals
            ],
        )
    card.add_plot(**{f"Model card/Evaluation/{name}": CARD_FIGURE}, alt_text=alt)
    card.add(**{f"Model card/Evaluation/{name}/Counts": table})
    return figure


def _slices(metadata: ModelMetadata, text: CardConfig) -> str:
    details = metadata.evaluation_details
    scores = None if details is None else details.slices
    if scores is None:
        configured = text.slice_column
        why = (
            f"card.slice_column is {escape(configured)}, but this version was trained without it"
            if configured
            else "no slice column is configured (card.slice_column in configs/train.yaml)"
        )
        return (
            f"Not measured: {why}. Set it to a categorical feature (e.g. a region or a customer "
            "segment) and train again to see the metrics of each of its categories."
        )
    names = sorted({name for score in scores.slices for name in score.metrics})
    rows = [
        (
            escape(score.category, limit=MAX_VALUE_LENGTH),
            f"{score.rows:,}",
            *(
                _number(score.metrics.get(name)) if score.metrics else "too few rows"
                for name in names
            ),
        )
        for score in scores.slices
    ]
    note = (
        f" {scores.other_rows:,} rows in less frequent categories are not listed."
        if scores.other_rows
        else ""
    )
    return (
        f"Metrics on the scoring rows of each category of {escape(scores.column)}, the most "
        f"frequent first; a category needs at least 10 rows.{note}\n\n"
        + _table(["Category", "Rows", *names], rows)
    )


def _live(card: Any, live: LiveSummary) -> None:
    lines = [
        f"From the monitoring run of {live.generated_at.isoformat(timespec='seconds')}: drift "
        f"verdict {escape(live.status)}. {escape(live.summary)}"
    ]
    if live.drifted:
        drifted = ", ".join(f"{escape(c, limit=MAX_VALUE_LENGTH)} ({v})" for c, v in live.drifted)
        lines.append(f"Columns that warn or alert: {drifted}.")
    if live.performance_status is None:
        lines.append("Live performance was not measured (no labels given to `monitor`).")
    else:
        lines.append(
            f"Performance: {escape(live.performance_status)} on "
            f"{live.performance_rows:,} labelled rows."
        )
    card.add(**{"Model card/Live monitoring": "\n\n".join(lines)})
    if live.metrics:
        rows = [
            (escape(name), f"{baseline:.4f}", _number(current), f"{limit:.4f}")
            for name, baseline, current, limit in live.metrics
        ]
        card.add(
            **{
                "Model card/Live monitoring/Metrics": _table(
                    ["Metric", "At training", "Live", "Alert limit"], rows
                )
            }
        )


def _reproduce(metadata: ModelMetadata) -> str:
    command = TRAIN_COMMAND
    if metadata.retrain is not None:
        config: Mapping[str, Any] | None = metadata.retrain.config
        how = (
            "This version is a candidate that `retrain` trained on labelled live records; its "
            "training and comparison files are listed under Training data. "
        )
    else:
        config = metadata.training_config
        how = ""
    how += (
        "Check out the recorded code, restore the data files with the digests above, save the "
        "config below as configs/train.yaml and run:"
    )
    checkout = f"git checkout {metadata.git_commit}\n" if metadata.git_commit else ""
    if config is None:
        shown = "The config of this version was not recorded (it was trained before 0.17.0)."
    else:
        dumped = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
        shown = "With this config (as resolved for the run):\n\n" + _fenced(dumped, "yaml")
    return f"{how}\n\n" + _fenced(f"{checkout}{command}\n", "sh") + f"\n\n{shown}"


def draw_figure(details: EvaluationDetails) -> bytes:
    """The confusion matrix, or the residuals by predicted value, as a reproducible SVG."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "model-card", "svg.fonttype": "path"}):
        # A fixed layout: constrained layout would double the drawing time.
        figure = Figure(figsize=(6, 4.5))
        figure.subplots_adjust(left=0.2, right=0.95, bottom=0.2, top=0.9)
        axes = figure.subplots()
        if details.confusion_matrix is not None:
            _draw_matrix(axes, details.confusion_matrix.labels, details.confusion_matrix.counts)
        else:
            _draw_residuals(axes, details)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _draw_matrix(axes: Any, labels: Sequence[str], counts: Sequence[Sequence[int]]) -> None:
    shown = [label if len(label) <= 20 else label[:19] + "…" for label in labels]
    axes.imshow(counts, cmap="Blues")  # each cell is labelled with its count: no colour bar
    ticks = range(len(labels))
    axes.set_xticks(ticks, labels=shown, parse_math=False, rotation=45 if len(labels) > 4 else 0)
    axes.set_yticks(ticks, labels=shown, parse_math=False)
    axes.set_xlabel("Predicted class")
    axes.set_ylabel("True class")
    largest = max((count for row in counts for count in row), default=0)
    for row, values in enumerate(counts):
        for column, count in enumerate(values):
            color = "white" if count > largest / 2 else "black"
            axes.text(column, row, f"{count:,}", ha="center", va="center", color=color)
    axes.set_title("Confusion matrix on the scoring rows")


def _draw_residuals(axes: Any, details: EvaluationDetails) -> None:
    bins = details.residuals
    centres = [(b.low + b.high) / 2 for b in bins]
    widths = [max(b.high - b.low, 1e-12) * 0.8 for b in bins]
    axes.bar(
        centres,
        [b.quantiles["p75"] - b.quantiles["p25"] for b in bins],
        widths,
        bottom=[b.quantiles["p25"] for b in bins],
        color="#90caf9",
        edgecolor="#1e88e5",
        label="middle half",
    )
    axes.vlines(
        centres,
        [b.quantiles["p05"] for b in bins],
        [b.quantiles["p95"] for b in bins],
        color="#1e88e5",
        label="middle 90%",
    )
    axes.scatter(centres, [b.quantiles["p50"] for b in bins], color="#0d47a1", label="median")
    axes.axhline(0.0, color="#c62828", linewidth=1)
    axes.set_xlabel("Predicted value")
    axes.set_ylabel("Residual (true minus predicted)")
    axes.legend(loc="best")
    axes.set_title("Residuals by predicted value on the scoring rows")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table of already escaped cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _fenced(text: str, language: str) -> str:
    """``text`` as a code block whose fence is longer than any backtick run inside it."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _longest_backticks(text: str) -> int:
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    return longest


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
