"""Every render serves predictions over HTTP as a user would run it.

In a copy of the render (with the runner venv and ``src/`` on the path): ``make data train``,
then ``python -m <package> serve`` on a free loopback port; ``/readyz``, ``/predict`` and bad
requests are checked end to end before the server is stopped with SIGTERM.
"""

import json
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

from rendering import Project
from trained_copy import TrainedCopy, call_json, demo_records, free_port, wait_until_ready


def test_serve_predicts_and_refuses_bad_requests(
    project: Project, venv: Path, trained_copy: TrainedCopy
) -> None:
    work, env = trained_copy.directory, trained_copy.env
    version = json.loads((work / "models" / "latest.json").read_text())["version"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    package = str(project.answers["package_name"])
    command = [str(venv / "bin" / "python"), "-m", package, "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until_ready(base, server, 120)
        assert call_json(f"{base}/livez") == (200, {"status": "alive"})
        records = demo_records(work, 3)
        status, answer = call_json(f"{base}/predict", json.dumps({"records": records}).encode())
        assert status == 200, answer
        assert len(answer["predictions"]) == 3
        assert answer["model_version"] == version
        assert ("probabilities" in answer) == (project.answers["model_task"] == "classification")
        first = next(iter(records[0]))
        missing = {"records": [{k: v for k, v in records[0].items() if k != first}]}
        status, refusal = call_json(f"{base}/predict", json.dumps(missing).encode())
        assert status == 422
        assert refusal["problems"][0] == {
            "field": f"records[0].{first}",
            "rule": "missing",
            "message": "Field required",
        }
        status, refusal = call_json(f"{base}/predict", b'{"records": [')
        assert (status, refusal["error"]) == (400, "malformed_json")
        assert call_json(f"{base}/nowhere")[0] == 404
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            try:  # h11's header cap, as `serve` configures it: refused before the headers end
                connection.sendall(b"GET /livez HTTP/1.1\r\nX-Big: " + b"a" * 4_000_000)
                answer = connection.recv(100)
            except ConnectionError:
                answer = b""
            assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer
        assert call_json(f"{base}/predict", json.dumps({"records": records}).encode())[0] == 200
        with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
            metrics = response.read().decode()
        assert 'validation_errors_total{rule="missing"} 1.0' in metrics
        assert 'http_requests_total{method="POST",route="/predict",status="200"} 2.0' in metrics
    finally:
        server.terminate()
        output = server.communicate(timeout=60)[0]
    # uvicorn shuts down gracefully, then re-raises SIGTERM, as a process stopped by it should.
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output, output
    assert "Traceback" not in output, output
