"""Every render trains end to end: make data, train, evaluate and predict, then refuses tampering.

Runs in a copy of the rendered project (the shared render stays free of data and models), with
the project's runner venv and ``src/`` on the path, as the other generated-project checks do.
"""

import json
import shutil
from pathlib import Path

import pytest

from rendering import Project
from runners import project_env
from trained_copy import TrainedCopy, empty_mlflow_store, run_python


def test_rendered_train_config_trains_the_rendered_task(
    project: Project, project_dir: Path, venv: Path
) -> None:
    """configs/train.yaml is the team's after the first render: as rendered, it fits the answers."""
    package, task = project.answers["package_name"], project.answers["model_task"]
    check = (
        f"from pathlib import Path; from {package}.core.config import load_config; "
        "config = load_config(Path('configs/train.yaml')); "
        f"assert config.task == {task!r}, config.task; "
        "assert config.data.train_path == Path('data/train.csv'); "
        "assert config.output.models_dir == Path('models'); "
        "assert config.quality_gate"
    )
    run_python(project_dir, venv, check)


def test_make_data_train_evaluate_predict(project: Project, trained_copy: TrainedCopy) -> None:
    work = trained_copy.directory
    trained_copy.make("evaluate", "predict")
    assert (work / "data" / "train.csv").is_file()
    version = json.loads((work / "models" / "latest.json").read_text())["version"]
    metadata = json.loads((work / "models" / version / "metadata.json").read_text())
    assert metadata["quality_gate"]["passed"] is True
    assert metadata["feature_schema"]["columns"]
    predictions = (work / "reports" / "predictions.csv").read_text().splitlines()
    assert "prediction" in predictions[0].split(",")
    assert len(predictions) > 50

    model_file = work / "models" / version / "model.skops"
    model_file.write_bytes(model_file.read_bytes()[:-16])
    refused = trained_copy.python("-m", str(project.answers["package_name"]), "predict", expect=2)
    assert "does not match the SHA-256 recorded at training time" in refused.stderr


def test_train_records_a_run_that_promote_makes_champion(
    project: Project, trained_copy: TrainedCopy
) -> None:
    """`make train` registered a challenger; `promote` makes it champion, loadable by alias."""
    if project.answers["tracking"] != "mlflow":
        pytest.skip("tracking=none records no runs")
    package, slug = str(project.answers["package_name"]), str(project.answers["project_slug"])
    assert (trained_copy.directory / "mlflow.db").is_file()
    listed = json.loads(trained_copy.python("-m", package, "models").stdout)
    assert [version["version"] for version in listed] == [1]
    assert listed[0]["aliases"] == ["challenger"]
    assert listed[0]["metrics"]
    trained_copy.python("-m", package, "promote")
    listed = json.loads(trained_copy.python("-m", package, "models").stdout)
    assert "champion" in listed[0]["aliases"]
    champion = f"models:/{slug}@champion"
    trained_copy.python("-m", package, "evaluate", "--model", champion)
    if project.answers["docker"]:  # a rollout pins the version @champion names now
        trained_copy.make("deploy-pin", "OVERLAY=prod")
        pin = (trained_copy.directory / "deploy/k8s/overlays/prod/model.env").read_text()
        assert pin.splitlines()[-1] == f"MODEL_SERVER_MODEL_URI=models:/{slug}/1", pin


def test_a_moved_project_finds_its_models_and_never_trains_into_another_folder(
    project: Project, project_dir: Path, venv: Path, tmp_path: Path
) -> None:
    """MLflow fixes where an experiment keeps run files: moved, they are found; copied, refused."""
    if project.answers["tracking"] != "mlflow":
        pytest.skip("tracking=none records no runs")
    package, slug = str(project.answers["package_name"]), str(project.answers["project_slug"])
    first = tmp_path / "first"
    shutil.copytree(project_dir, first)
    shutil.copyfile(empty_mlflow_store(venv), first / "mlflow.db")
    TrainedCopy(first, project_env(venv, first), venv).make("data", "train")
    moved = TrainedCopy(tmp_path / "moved", project_env(venv, tmp_path / "moved"), venv)
    shutil.move(first, moved.directory)

    moved.python("-m", package, "predict", "--model", f"models:/{slug}@challenger")
    refused = moved.python("-m", package, "train", expect=2)
    expected = (
        f"experiment '{slug}' in sqlite:///mlflow.db keeps its run artifacts in {first}/mlruns, "
        "which is not on this machine (the project moved?): train where the project was created "
        "or mount it at that path, or give this project a store of its own (tracking.uri)"
    )
    assert refused.stderr.strip().splitlines()[-1].endswith(expected), refused.stderr

    copy = TrainedCopy(tmp_path / "copy", project_env(venv, tmp_path / "copy"), venv)
    shutil.copytree(moved.directory, copy.directory)
    shutil.move(moved.directory, first)  # the original is back where its store says
    runs = {path: sorted((path / "mlruns").rglob("*")) for path in (first, copy.directory)}
    refused = copy.python("-m", package, "train", expect=2)
    assert f"keeps its run artifacts in {first}/mlruns, fixed when it was created" in (
        refused.stderr
    )
    assert {path: sorted((path / "mlruns").rglob("*")) for path in runs} == runs
    listed = json.loads(copy.python("-m", package, "models").stdout)
    assert [version["version"] for version in listed] == [1], "no version from refused trains"
