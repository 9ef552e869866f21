"""Record ids through /predict: echoed next to each prediction, logged, never features."""

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Records, Serving

pytestmark = pytest.mark.unit


def _with_ids(records: Records, ids: list[Any]) -> Records:
    return [record | {"record_id": value} for record, value in zip(records, ids, strict=True)]


def test_ids_are_echoed_next_to_each_prediction_and_logged(
    serving: Serving, ids_model_dir: Path, records: Records, tmp_path: Path
) -> None:
    log = tmp_path / "predictions.jsonl"
    sent = _with_ids(records, ["a-1", 7, "7b"])
    with serving(ids_model_dir, prediction_log=log) as client:
        answer = client.post("/predict", json={"records": sent})
        assert answer.status_code == 200
        body = answer.json()
        openapi = client.get("/openapi.json").json()
    assert body["ids"] == [{"record_id": "a-1"}, {"record_id": 7}, {"record_id": "7b"}]
    assert len(body["predictions"]) == 3
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["ids"] for line in lines] == body["ids"]
    assert all("record_id" not in line["inputs"] for line in lines)
    example = openapi["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert example["example"]["records"][0]["record_id"] == "record_id-1"


def test_the_same_records_predict_the_same_with_or_without_ids(
    serving: Serving, model_dir: Path, ids_model_dir: Path, records: Records
) -> None:
    with serving(model_dir) as plain, serving(ids_model_dir) as with_ids:
        without = plain.post("/predict", json={"records": records}).json()
        given = with_ids.post("/predict", json={"records": _with_ids(records, [1, 2, 3])}).json()
    assert "ids" not in without
    assert given["predictions"] == without["predictions"]


@pytest.mark.parametrize(
    ("ids", "field", "rule"),
    [
        (["a", "b", "a"], "records[2].record_id", "duplicate_id"),
        ([1, "1", 2], "records[1].record_id", "duplicate_id"),  # ids compare as text
        ([True, 2, 3], "records[0].record_id", "invalid_id"),
        ([1.5, 2, 3], "records[0].record_id", "invalid_id"),
        (["", 2, 3], "records[0].record_id", "invalid_id"),
        (["x" * 129, 2, 3], "records[0].record_id", "invalid_id"),
        ([2**63, 2, 3], "records[0].record_id", "invalid_id"),
        ([None, 2, 3], "records[0].record_id", "invalid_id"),
        ([{"nested": 1}, 2, 3], "records[0].record_id", "invalid_id"),
    ],
)
def test_bad_or_repeated_ids_are_a_422_naming_the_record(
    serving: Serving, ids_model_dir: Path, records: Records, ids: list[Any], field: str, rule: str
) -> None:
    with serving(ids_model_dir) as client:
        answer = client.post("/predict", json={"records": _with_ids(records, ids)})
        assert client.get("/readyz").status_code == 200
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    assert any(p["field"] == field and p["rule"] == rule for p in problems), problems


def test_a_record_without_its_id_is_refused(
    serving: Serving, ids_model_dir: Path, records: Records
) -> None:
    with serving(ids_model_dir) as client:
        answer = client.post("/predict", json={"records": records[:1]})
    assert answer.status_code == 422
    assert answer.json()["problems"][0] == {
        "field": "records[0].record_id",
        "rule": "missing",
        "message": "Field required",
    }
