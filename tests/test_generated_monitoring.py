"""Every render monitors end to end: make data, train, monitor; a shifted batch alerts.

Runs in a copy of the rendered project with the project's runner venv and ``src/`` on the
path, as the other generated-project checks do.
"""

import csv
import json
import statistics
from pathlib import Path

from helpers import Project, TrainedCopy, run_python


def _shifted_copy(source: Path, destination: Path, feature: str) -> None:
    """``source`` with ``feature`` moved up by five of its standard deviations."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    values = [float(row[feature]) for row in rows]
    shift = 5 * statistics.stdev(values)
    for row, value in zip(rows, values, strict=True):
        row[feature] = repr(value + shift)
    with destination.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_rendered_monitoring_config_documents_the_code_defaults(
    project: Project, project_dir: Path, venv: Path
) -> None:
    """configs/monitoring.yaml, the team's after the first render, is rendered as the defaults."""
    package = project.answers["package_name"]
    check = (
        f"from pathlib import Path; from {package}.monitoring import MonitoringConfig, "
        "load_monitoring_config; "
        "assert load_monitoring_config(Path('configs/monitoring.yaml')) == MonitoringConfig()"
    )
    run_python(project_dir, venv, check)


def test_monitor_passes_on_test_data_and_alerts_on_a_shifted_feature(
    project: Project, trained_copy: TrainedCopy
) -> None:
    work = trained_copy.directory
    trained_copy.make("monitor")
    reports = work / "reports"
    assert (reports / "report.html").read_text().startswith("<!DOCTYPE html>")
    clean = json.loads((reports / "report.json").read_text())
    assert clean["status"] in {"ok", "warn"}
    assert clean["reference"]["model_version"]

    with (work / "data" / "test.csv").open() as handle:
        feature = next(name for name in next(csv.reader(handle)) if name != "target")
    _shifted_copy(work / "data" / "test.csv", work / "shifted.csv", feature)
    package = str(project.answers["package_name"])
    monitor = ["-m", package, "monitor", "--current", "shifted.csv", "--report-dir", "out"]
    trained_copy.python(*monitor, expect=1)
    report = json.loads((work / "out" / "report.json").read_text())
    assert report["status"] == "alert"
    alerting = [column["name"] for column in report["features"] if column["status"] == "alert"]
    assert alerting == [feature]
    assert (work / "out" / "report.html").is_file()
