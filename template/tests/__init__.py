"""Tests of the project: unit tests per module, integration tests end to end.

Model calls run on one thread. ``pytest -n auto`` already puts a worker on every core, and
OpenMP threads on top of it (histogram gradient boosting's) spin against the other workers: a
gradient-boosting test ran several times slower. This package is imported before any test
module, so the setting is read when scikit-learn loads its OpenMP runtime; a value set by the
caller wins.
"""

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, hidden ones (locks) aside: a state to compare."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }
