"""A rendered project's code at work: trained copies, their MLflow store, the served model.

``TrainedCopy`` (a render where ``make data train`` ran) and Python run in a render with its
runner venv; the SQLite MLflow store a trained copy starts with and its move to another folder;
the served model over HTTP (free ports, JSON calls, readiness, demo records).
"""

import contextlib
import csv
import json
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from runners import bytecode_env, project_env, run


def run_python(project_dir: Path, venv: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with the runner venv's Python in a rendered project (``src/`` on the path)."""
    return run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=project_dir,
        env=project_env(venv, project_dir),
    )


@dataclass(frozen=True)
class TrainedCopy:
    """A copy of a render where ``make data train`` has run, with the env to run more in it."""

    directory: Path
    env: dict[str, str]
    venv: Path

    def make(self, *targets: str) -> None:
        """Run make targets in the copy with the runner venv."""
        run(["make", f"VENV={self.venv}", *targets], cwd=self.directory, env=self.env)

    def python(self, *arguments: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """Run the runner venv's Python in the copy (``src/`` on the path)."""
        command = [str(self.venv / "bin" / "python"), *arguments]
        return run(command, cwd=self.directory, env=self.env, expect=expect)


# -- the MLflow store of a trained copy

#: Run by a runner venv's Python: open (so create and migrate) the SQLite MLflow store argv[1].
MIGRATE_MLFLOW_STORE = (
    "import sys; from mlflow import MlflowClient; MlflowClient(sys.argv[1]).search_experiments()"
)


def empty_mlflow_store(venv: Path) -> Path:
    """An empty SQLite MLflow store migrated by ``venv``'s MLflow, made once per runner venv.

    Opening a fresh store runs MLflow's migrations (seconds); a copy of this file starts each
    trained copy of a render with a ready store, as the generated tests do for their own.
    """
    store = venv.with_name(f"{venv.name}-mlflow.db")
    with FileLock(str(store) + ".lock"):
        if not store.exists():
            scratch = store.with_name(f"{store.name}.tmp")
            scratch.unlink(missing_ok=True)
            python = str(venv / "bin" / "python")
            migrate = [python, "-c", MIGRATE_MLFLOW_STORE, f"sqlite:///{scratch}"]
            run(migrate, cwd=venv.parent, env=bytecode_env(venv))
            scratch.rename(store)
    return store


def move_mlflow_store(store: Path, old_root: Path, new_root: Path) -> None:
    """Point ``store``'s artifact locations under ``old_root`` at the same places in ``new_root``.

    MLflow records absolute artifact locations (an experiment's folder, each run's and version's
    files), and the generated project refuses to train into an experiment whose folder is not
    its own: a copied project with a rebased store is as if it had trained where it is.
    """
    old, new = old_root.as_uri(), new_root.as_uri()
    with contextlib.closing(sqlite3.connect(store)) as database, database:
        tables = database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in tables.fetchall():
            for column in database.execute(f'PRAGMA table_info("{table}")').fetchall():
                if column[2].upper().startswith(("VARCHAR", "TEXT")):
                    database.execute(
                        f'UPDATE "{table}" SET "{column[1]}" = ? || substr("{column[1]}", ?) '
                        f"WHERE \"{column[1]}\" LIKE ? || '%'",
                        (new, len(old) + 1, old),
                    )


# -- a served model over HTTP


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def call_json(url: str, body: bytes | None = None) -> tuple[int, Any]:
    """Status and JSON body of a GET (or a POST of ``body``); 4xx/5xx do not raise."""
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_ready(base: str, server: subprocess.Popen[str], seconds: float) -> None:
    """Wait until the server at ``base`` answers /readyz with 200; fail if it exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, f"serve exited early:\n{server.communicate()[0]}"
        try:
            if call_json(f"{base}/readyz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"serve was not ready within {seconds} s")


#: The id column of the default config (``features.ids``): sent as text, never a feature.
RECORD_ID = "record_id"


def demo_records(work: Path, rows: int) -> list[dict[str, float | str]]:
    """The first ``rows`` records of a trained copy's test data (ids kept), without the target."""
    with (work / "data" / "test.csv").open() as handle:
        reader = csv.DictReader(handle)
        return [
            {
                name: value if name == RECORD_ID else float(value)
                for name, value in row.items()
                if name != "target"
            }
            for _, row in zip(range(rows), reader, strict=False)
        ]
