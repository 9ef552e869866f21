"""Fixtures of the integration tests: a fresh project folder, and headless Chromium."""

import shutil
import subprocess
from collections.abc import Callable
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


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """``dump_dom(url, *flags)``: the DOM headless Chromium built of ``url``, offline.

    Skips the test where Chromium is missing. Every host name but 127.0.0.1 fails to
    resolve, so a page needing the network shows it; each run gets a fresh profile folder,
    so runs on several workers never share one.
    """
    browser = next(
        (
            path
            for name in ("chromium", "chromium-browser", "google-chrome")
            if (path := shutil.which(name))
        ),
        None,
    )
    if browser is None:
        pytest.skip("no Chromium on PATH (Debian: apt-get install chromium)")

    def dump_dom(url: str, *flags: str) -> str:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            *flags,
            "--dump-dom",
            url,
        ]
        done = subprocess.run(  # noqa: S603 -- a fixed command line
            command, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"Chromium exited {done.returncode}:\n{done.stderr[-3000:]}"
        return done.stdout

    return dump_dom
