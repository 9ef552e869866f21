"""Fixtures of the integration tests: a fresh project folder to run commands in."""

from pathlib import Path

import pytest

from . import PROJECT_TASK, write_config


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory with a config for the project's task, as the working directory."""
    (tmp_path / "configs").mkdir()
    write_config(tmp_path, PROJECT_TASK)
    monkeypatch.chdir(tmp_path)
    return tmp_path
