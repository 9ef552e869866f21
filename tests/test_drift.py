"""scripts/drift.py says what moved and which moved release a failing test names."""

import sys
from pathlib import Path

from rendering import TEMPLATE_ROOT

sys.path.insert(0, str(TEMPLATE_ROOT / "scripts"))
from drift import Step, blamed, failures, moved_packages, report

LOCK_REPORT = """\
build requirements: hatchling==1.34.0
py3.11-mlflow-docker: idna 3.20 -> 3.21; mlflow-skinny 3.17.2 -> 3.19.0
py3.12-none-nodocker: idna 3.20 -> 3.21; lazy-importer - -> 0.1.0
py3.13-none-docker: no version changed
cut-off 2026-12-06T00:00:00Z: 2 of 16 locks changed, 0 failed
"""

JUNIT = """\
<testsuites><testsuite name="pytest">
<testcase classname="tests.test_answer_validation" name="test_reserved[defaults]">
<failure message="AssertionError: add to dependency_module_names: lazy_importer">trace</failure>
</testcase>
<testcase classname="tests.test_generated_checks" name="test_own_tests[py314]">
<error message="exited 1">INFO mlflow.store.db.utils: Creating initial tables</error>
</testcase>
<testcase classname="tests.test_render" name="test_file_set[defaults]"/>
</testsuite></testsuites>
"""


def test_moved_packages_are_read_from_every_lock() -> None:
    assert moved_packages(LOCK_REPORT) == {
        "idna": "3.20 -> 3.21",
        "mlflow-skinny": "3.17.2 -> 3.19.0",
        "lazy-importer": "- -> 0.1.0",
    }


def test_each_failing_test_is_reported_with_the_moved_release_it_names(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    found = failures(junit)
    assert [test for test, _ in found] == [
        "tests.test_answer_validation::test_reserved[defaults]",
        "tests.test_generated_checks::test_own_tests[py314]",
    ]
    moved = moved_packages(LOCK_REPORT)
    assert blamed(found[0][1], moved) == ["lazy-importer - -> 0.1.0"]
    assert blamed(found[1][1], moved) == ["mlflow-skinny 3.17.2 -> 3.19.0"]  # its import name
    assert failures(tmp_path / "absent.xml") == []


def test_report_lists_steps_details_and_the_failing_tail() -> None:
    steps = [
        Step("newest-deps", "upgrade every lock", True, "", ["moved: idna 3.20 -> 3.21"]),
        Step("newest-deps", "make test", False, "line\n" * 50 + "end", ["failed: t (names x)"]),
    ]
    text = report(steps)
    assert "| newest-deps | make test | **broke** |" in text
    assert "- moved: idna 3.20 -> 3.21" in text
    assert "- failed: t (names x)" in text
    assert text.count("line") == 39  # the last 40 lines of the failing step's output
