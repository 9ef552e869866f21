"""Every render trains end to end: make data, train, evaluate and predict, then refuses tampering.

Runs in a copy of the rendered project (the shared render stays free of data and models), with
the project's runner venv and ``src/`` on the path, as the other generated-project checks do.
"""

import json
from pathlib import Path

from helpers import Project, TrainedCopy, run_python


def test_rendered_train_config_trains_the_rendered_task(
    project: Project, project_dir: Path, venv: Path
) -> None:
    """configs/train.yaml is the team's after the first render: as rendered, it fits the answers."""
    package, task = project.answers["package_name"], project.answers["model_task"]
    check = (
        f"from pathlib import Path; from {package}.core import load_config; "
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
