"""Tests of the project: unit tests per module, integration tests end to end.

Model calls run on one thread. ``pytest -n auto`` already puts a worker on every core, and
OpenMP threads on top of it (histogram gradient boosting's) spin against the other workers: a
gradient-boosting test ran several times slower. This package is imported before any test
module, so the setting is read when scikit-learn loads its OpenMP runtime; a value set by the
caller wins.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
