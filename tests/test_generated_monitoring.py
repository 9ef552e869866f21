"""Every render monitors end to end: make data, train, monitor; a shifted batch alerts.

Runs in a copy of the rendered project with the project's runner venv and ``src/`` on the
path, as the other generated-project checks do.
"""

import csv
import json
import shutil
import statistics
from pathlib import Path

import pytest

from rendering import JOURNEY_SET, TEMPLATE_ROOT, Project, render
from runners import project_env, tracks_with_mlflow
from trained_copy import RECORD_ID, TrainedCopy, empty_mlflow_store, run_python

#: The last release whose bundles profile the model's outputs on its training rows (format 2).
IN_SAMPLE_RELEASE = "0.10.2"
#: Columns of the demo data that are not features: the target and the record id.
SKIPPED = ("target", RECORD_ID)
ESTIMATORS = {
    "classification": ["logistic_regression", "random_forest", "hist_gradient_boosting"],
    "regression": ["ridge", "random_forest", "hist_gradient_boosting"],
}
#: Each estimator alerted on the held-out demo rows when outputs were profiled on fitted rows.
EVERY_ESTIMATOR_PASSES = """
import sys
from {package}.cli import main
failed = []
for estimator in {estimators}:
    for strategy in ("holdout", "cv"):
        overrides = ["--set", f"estimator.name={{estimator}}", "--set", "estimator.params={{}}"]
        overrides += ["--set", f"split.strategy={{strategy}}"]
        assert main(["--quiet", "train", *overrides]) == 0, (estimator, strategy)
        code = main(["--quiet", "monitor", "--current", "data/test.csv", "--report-dir", "out"])
        if code != 0:
            failed.append((estimator, strategy, code))
sys.exit(f"monitor alerted on held-out rows: {{failed}}" if failed else 0)
"""


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
        f"from pathlib import Path; from {package}.monitoring.config import MonitoringConfig, "
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
        feature = next(name for name in next(csv.reader(handle)) if name not in SKIPPED)
    _shifted_copy(work / "data" / "test.csv", work / "shifted.csv", feature)
    package = str(project.answers["package_name"])
    monitor = ["-m", package, "monitor", "--current", "shifted.csv", "--report-dir", "out"]
    trained_copy.python(*monitor, expect=1)
    report = json.loads((work / "out" / "report.json").read_text())
    assert report["status"] == "alert"
    alerting = [column["name"] for column in report["features"] if column["status"] == "alert"]
    assert alerting == [feature]
    assert (work / "out" / "report.html").is_file()


@pytest.mark.parametrize(
    "answer_set", [JOURNEY_SET, "regression-gitlab-apache-py312-docker-notracking"], indirect=True
)
def test_every_estimator_passes_monitor_on_held_out_rows(
    project: Project, trained_copy: TrainedCopy
) -> None:
    """train then monitor --current data/test.csv exits 0 for each estimator and strategy."""
    task = project.answers["model_task"]
    code = EVERY_ESTIMATOR_PASSES.format(
        package=project.answers["package_name"], estimators=ESTIMATORS[str(task)]
    )
    trained_copy.python("-c", code)


@pytest.mark.parametrize("answer_set", [JOURNEY_SET], indirect=True)
def test_a_model_of_the_last_in_sample_release_still_loads_and_monitors(
    project: Project, trained_copy: TrainedCopy, tmp_path: Path
) -> None:
    """A bundle trained by 0.10.2 (profile format 2) is monitored as before, with a note."""
    old = render(TEMPLATE_ROOT, tmp_path / "old", f"v{IN_SAMPLE_RELEASE}", **project.answers)
    if tracks_with_mlflow(old.directory):
        shutil.copyfile(empty_mlflow_store(trained_copy.venv), old.directory / "mlflow.db")
    env = project_env(trained_copy.venv, old.directory)
    TrainedCopy(old.directory, env, trained_copy.venv).make("data", "train")
    profile = json.loads(next((old.directory / "models").glob("*/profile.json")).read_text())
    assert profile["format_version"] == 2
    assert "predictions_from" not in profile

    package = str(project.answers["package_name"])
    models = str(old.directory / "models")
    monitor = ["monitor", "--reference", models, "--current", "data/test.csv"]
    monitor += ["--report-dir", "old"]
    trained_copy.python("-m", package, *monitor)
    report = json.loads((trained_copy.directory / "old" / "report.json").read_text())
    assert report["status"] in {"ok", "warn"}
    assert report["reference"]["predictions_from"].startswith("predictions on the training rows")
    assert "trained before 0.11.0" in report["prediction_note"]
    assert [column["name"] for column in report["predictions"]]
    trained_copy.python("-m", package, "predict", "--model", models, "--output", "old.csv")
    assert (trained_copy.directory / "old.csv").is_file()
