"""``report.html``: a self-contained page (inline CSS and SVG, no scripts, no CDN).

Every value taken from data (column names, categories, file paths) goes through
:func:`html.escape`.
"""

from collections.abc import Sequence
from html import escape
from pathlib import Path

from ..core.data import write_text_atomically
from ..core.metrics import Task
from .report import (
    Bin,
    ColumnReport,
    LabelsInfo,
    MonitoringReport,
    ShadowComparison,
    ShadowReport,
    Statistic,
)
from .statistics import DRIFT_STATISTICS

REPORT_HTML = "report.html"
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;
text-align:left;font-size:.9rem}.badge{color:#fff;padding:.1rem .5rem;border-radius:.3rem}
section{border-top:1px solid #ddd;margin-top:1rem;padding-top:.5rem}
.ok{background:#2e7d32}.warn{background:#ef6c00}.alert{background:#c62828}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}
"""
REFERENCE_FILL, CURRENT_FILL = "#90a4ae", "#1e88e5"


def render_html(report: MonitoringReport) -> str:
    """The whole page for ``report``."""
    columns = [*report.features, *report.predictions]
    head = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Monitoring report: {escape(report.status)}</title><style>{STYLE}</style></head>"
    )
    body = [
        f"<h1>Monitoring report {_badge(report.status)}</h1>",
        f"<p>{escape(report.summary)}</p>",
        _summary_table(report),
        _schema(report),
        _performance(report),
        _shadow(report.shadow) if report.shadow is not None else "",
        "<h2>Columns, most severe first</h2>",
        "<p class='legend'>Bars: share of values per bin"
        f"<span style='background:{REFERENCE_FILL}'></span>reference"
        f"<span style='background:{CURRENT_FILL}'></span>current</p>",
    ]
    if report.prediction_note:
        body.append(f"<p>Model outputs: {escape(report.prediction_note)}</p>")
    body.extend(_column(column) for column in columns)
    return head + "<body>" + "\n".join(body) + "</body></html>\n"


def write_report_html(report: MonitoringReport, directory: Path) -> Path:
    """Write ``report.html`` under ``directory``."""
    return write_text_atomically(directory / REPORT_HTML, render_html(report))


def _badge(status: str) -> str:
    return f"<span class='badge {escape(status)}'>{escape(status.upper())}</span>"


def _rows(pairs: Sequence[tuple[str, object]]) -> str:
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in pairs)
    return f"<table>{cells}</table>"


def _summary_table(report: MonitoringReport) -> str:
    counts = {
        level: sum(column.status == level for column in report.features)
        for level in ("alert", "warn", "ok")
    }
    alerting = report.alerting
    return _rows(
        [
            ("generated at", report.generated_at.isoformat()),
            ("model version", report.reference.model_version or "none (data reference)"),
            ("reference", f"{report.reference.source} ({report.reference.rows} rows)"),
            ("prediction reference", report.reference.predictions_from or "none"),
            ("current", f"{report.current.source} ({report.current.rows} rows)"),
            (
                "window",
                f"{report.current.window_start or '-'} to {report.current.window_end or '-'}",
            ),
            (
                "features alert / warn / ok",
                f"{counts['alert']} / {counts['warn']} / {counts['ok']}",
            ),
            (
                "alerting",
                f"breached: {alerting.breached}; {alerting.breaches} of the last "
                f"{alerting.windows} window(s) breached, {alerting.required} needed",
            ),
        ]
    )


def _schema(report: MonitoringReport) -> str:
    check = report.schema_check
    items = "".join(f"<li>{escape(problem)}</li>" for problem in check.problems)
    extra = ", ".join(check.extra_columns) or "none"
    return (
        f"<h2>Schema {_badge(check.status)}</h2><ul>{items or '<li>no problem</li>'}</ul>"
        f"<p>Columns not in the schema (ignored): {escape(extra)}</p>"
    )


def _performance(report: MonitoringReport) -> str:
    scored = report.performance
    labels = _labels(scored.labels) if scored.labels is not None else ""
    if scored.status == "skipped":
        return f"<h2>Performance: not judged</h2><p>{escape(scored.reason or '')}</p>{labels}"
    rows = "".join(
        f"<tr><td>{escape(m.name)}</td><td>{_number(m.baseline)}</td><td>{_number(m.current)}</td>"
        f"<td>{'&ge;' if m.higher_is_better else '&le;'} {_number(m.limit)}</td>"
        f"<td>{_badge(m.status)}</td></tr>"
        for m in scored.metrics
    )
    return (
        f"<h2>Performance {_badge(scored.status)}</h2><p>{scored.rows} labelled rows; "
        f"training metrics from {escape(scored.baseline_from or 'unknown rows')}</p>"
        "<table><tr><th>metric</th><th>training</th><th>current</th><th>allowed</th>"
        f"<th>verdict</th></tr>{rows}</table>{labels}"
    )


def _labels(labels: LabelsInfo) -> str:
    """Where live labels came from and how well they cover the logged predictions."""
    return (
        f"<p>Live labels from {escape(labels.store)}: {labels.labelled_rows} of "
        f"{labels.logged_rows} logged predictions labelled (coverage "
        f"{_number(labels.coverage)}) between {escape(str(labels.window_start))} and "
        f"{escape(str(labels.window_end))}; label delay median "
        f"{_number(labels.delay_median_seconds)} s, p90 {_number(labels.delay_p90_seconds)} s; "
        f"{labels.repeated_ids} id(s) predicted more than once (the latest scored); "
        f"{labels.unknown_classes} label(s) of a class the model does not know</p>"
    )


def _shadow(shadow: ShadowReport) -> str:
    """The shadow models' answers against the champion's: informational, never judged."""
    if shadow.task == "classification":
        closeness = "<th>same class</th>"
    else:
        closeness = "<th>mean |shadow - champion|</th><th>p90 |shadow - champion|</th>"
    rows = "".join(_shadow_row(compared, shadow.task) for compared in shadow.comparisons)
    return (
        "<h2>Shadow (informational)</h2><p>The shadow model scored the same requests off the "
        "hot path; these figures never change the status.</p><table><tr><th>shadow</th>"
        f"<th>champion</th><th>records</th>{closeness}<th>labelled</th></tr>{rows}</table>"
        + "".join(_shadow_metrics(compared) for compared in shadow.comparisons)
    )


def _shadow_row(compared: ShadowComparison, task: Task) -> str:
    if task == "classification":
        agreement = compared.agreement
        closeness = f"<td>{'-' if agreement is None else f'{100 * agreement:.1f}%'}</td>"
    else:
        closeness = (
            f"<td>{_number(compared.mean_abs_difference)}</td>"
            f"<td>{_number(compared.p90_abs_difference)}</td>"
        )
    scored = compared.performance
    labelled = "-" if scored is None else str(scored.labelled_rows)
    return (
        f"<tr><td>{escape(compared.shadow_version)}</td>"
        f"<td>{escape(compared.champion_version)}</td><td>{compared.records}</td>{closeness}"
        f"<td>{labelled}</td></tr>"
    )


def _shadow_metrics(compared: ShadowComparison) -> str:
    """Both models' metrics on the same labelled records, or why there are none."""
    scored = compared.performance
    if scored is None:
        return ""
    title = (
        f"<h3>Shadow {escape(compared.shadow_version)} against champion "
        f"{escape(compared.champion_version)} on {scored.labelled_rows} labelled records</h3>"
    )
    if not scored.metrics:
        return f"{title}<p>{escape(scored.reason or '')}</p>"
    rows = "".join(
        f"<tr><td>{escape(m.name)}</td><td>{_number(m.shadow)}</td><td>{_number(m.champion)}</td>"
        f"<td>{'higher' if m.higher_is_better else 'lower'}</td></tr>"
        for m in scored.metrics
    )
    return (
        f"{title}<table><tr><th>metric</th><th>shadow</th><th>champion</th><th>better</th></tr>"
        f"{rows}</table>"
    )


def _column(column: ColumnReport) -> str:
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in column.reasons)
    missing = _number(column.missing_share_current)
    return (
        f"<section><h3>{escape(column.name)} {_badge(column.status)}</h3>"
        f"<p>{escape(column.role)}, {escape(column.kind)}; {column.current_rows} values, "
        f"missing share {_number(column.missing_share_reference)} in reference, {missing} now</p>"
        f"<ul>{reasons}</ul>{_statistics(column.statistics)}{_bar_chart(column.bins)}</section>"
    )


def _statistics(statistics: Sequence[Statistic]) -> str:
    rows = "".join(
        f"<tr><td{_meaning(s.name)}>{escape(s.name)}</td><td>{_number(s.value)}</td>"
        f"<td>{_number(s.warn)}</td>"
        f"<td>{_number(s.alert)}</td><td>{escape(s.status)}</td></tr>"
        for s in statistics
    )
    return (
        "<table><tr><th>statistic</th><th>value</th><th>warn</th><th>alert</th>"
        f"<th>verdict</th></tr>{rows}</table>"
    )


def _meaning(statistic: str) -> str:
    """A catalogued statistic's label, shown when the pointer rests on its name."""
    spec = DRIFT_STATISTICS.get(statistic)
    return f" title='{escape(spec.label)}'" if spec else ""


def _bar_chart(bins: Sequence[Bin], *, width: int = 640, height: int = 180) -> str:
    """Grouped bars of reference and current shares per bin, as inline SVG."""
    if not bins:
        return ""
    top = max([b.reference for b in bins] + [b.current or 0.0 for b in bins] + [1e-9])
    slot = width / len(bins)
    bar = max(slot * 0.4, 1.0)
    plot = height - 40
    shapes = []
    for index, item in enumerate(bins):
        x = index * slot
        for offset, share, fill in (
            (0.1, item.reference, REFERENCE_FILL),
            (0.5, item.current or 0.0, CURRENT_FILL),
        ):
            size = plot * share / top
            shapes.append(
                f"<rect x='{x + offset * slot:.1f}' y='{plot - size + 10:.1f}' width='{bar:.1f}' "
                f"height='{size:.1f}' fill='{fill}'><title>{escape(item.label)}: "
                f"{share:.3f}</title></rect>"
            )
        shapes.append(
            f"<text x='{x + slot / 2:.1f}' y='{height - 12}' font-size='9' "
            f"text-anchor='middle'>{escape(_short(item.label))}</text>"
        )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='reference and current shares'>{''.join(shapes)}</svg>"
    )


def _short(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
