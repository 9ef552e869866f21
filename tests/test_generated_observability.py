"""A real Prometheus scrapes a generated server with the render's own scrape config and rules.

In a trained copy of the default render: ``monitor`` writes a report, ``serve`` exposes its
drift gauges next to the request metrics on a free loopback port, and Debian's ``prometheus``
server loads ``deploy/prometheus/prometheus.yml`` (only the target and the intervals
rewritten) with the render's alert rules. After good and bad /predict traffic, every metric
that an alert rule or the Grafana dashboard uses (``kube_*`` series of kube-state-metrics and
the ``shadow_*`` ones of a shadow model, which this server has not, aside) has a series with the
job's label, and every alert rule is loaded and healthy.
"""

import csv
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rendering import Project
from trained_copy import TrainedCopy, call_json, demo_records, free_port, wait_until_ready

#: A metric name where a selector's braces open (rules and dashboards always write braces).
METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")
#: How long Prometheus may take to scrape every series and evaluate every rule (1 s intervals).
SETTLE_SECONDS = 60


def _rule_files(config: dict[str, Any], directory: Path) -> list[Path]:
    """The render's files that ``rule_files`` names, as absolute paths.

    An entry is relative to the config file, or a path in the container that mounts
    ``directory`` (``/etc/prometheus/alerts.yml``): its longest tail that exists there counts.
    """
    found: list[Path] = []
    for entry in config.get("rule_files") or []:
        parts = Path(entry).parts[1:] if Path(entry).is_absolute() else Path(entry).parts
        tails = (Path(*parts[start:]) for start in range(len(parts)))
        matches = next((m for tail in tails if (m := sorted(directory.glob(str(tail))))), [])
        assert matches, f"rule_files entry {entry!r} names no file in {directory}"
        found += matches
    return found


def _exprs(node: object) -> Iterator[str]:
    """Every ``expr`` string in a JSON document (Grafana panel targets), at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from _exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _exprs(item)


def _get(base: str, path: str, **query: str) -> Any:
    """The ``data`` of a successful Prometheus HTTP API answer."""
    url = f"{base}{path}?{urllib.parse.urlencode(query)}" if query else f"{base}{path}"
    with urllib.request.urlopen(url, timeout=30) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return answer["data"]


def _wait_for_prometheus(base: str, server: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, f"prometheus exited early:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"prometheus was not ready within {SETTLE_SECONDS} s:\n{log.read_text()}")


def _report_live_performance(
    trained_copy: TrainedCopy, package: str, tmp_path: Path, reports: Path
) -> None:
    """Label the served records and rewrite the report with live performance (the gauges)."""
    log = tmp_path / "predictions.jsonl"
    deadline = time.monotonic() + SETTLE_SECONDS
    while not log.is_file() or len(log.read_text().splitlines()) < 120:  # written off the path
        assert time.monotonic() < deadline, "the prediction log was not written"
        time.sleep(0.1)
    with (trained_copy.directory / "data" / "test.csv").open() as handle:
        rows = list(csv.DictReader(handle))[:40]
    labels = tmp_path / "labels.csv"
    lines = [f"{row['record_id']},{row['target']}\n" for row in rows]
    labels.write_text("record_id,target\n" + "".join(lines))
    store = str(tmp_path / "labels")
    trained_copy.python("-m", package, "--quiet", "label", str(labels), "--store", store)
    config = tmp_path / "monitoring.yaml"
    config.write_text("performance: {live_min_rows: 20, min_rows_per_class: 1}\n")
    monitor = ["-m", package, "--quiet", "monitor", "--current", str(log), "--labels", store]
    monitor += ["--config", str(config), "--report-dir", str(reports)]
    done = subprocess.run(
        [str(trained_copy.venv / "bin" / "python"), *monitor],
        cwd=trained_copy.directory,
        env=trained_copy.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in {0, 1}, done.stdout + done.stderr  # 1: an alert, also reported


@pytest.mark.parametrize("answer_set", ["defaults"], indirect=True)
def test_prometheus_scrapes_every_metric_the_rules_and_dashboard_use(
    project: Project, trained_copy: TrainedCopy, tmp_path: Path
) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus not found: apt-get install prometheus (.ci/run installs it)")
    work, slug = trained_copy.directory, str(project.answers["project_slug"])
    config_dir = work / "deploy" / "prometheus"
    config = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    rule_files = _rule_files(config, config_dir)
    rules = [
        rule
        for path in rule_files
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]
    alerts = {rule["alert"] for rule in rules if "alert" in rule}
    dashboards = sorted((work / "deploy" / "grafana").rglob("*.json"))
    assert alerts, f"no alert rule in {rule_files}"
    assert dashboards, "no Grafana dashboard under deploy/grafana"
    exprs = [str(rule["expr"]) for rule in rules]
    exprs += [expr for path in dashboards for expr in _exprs(json.loads(path.read_text()))]
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    used = {name for name in used if not name.startswith("kube_")}
    # The shadow panels' series exist only when a shadow model is configured
    # (MODEL_SERVER_SHADOW_MODEL); this server has none, so they are not expected.
    used = {name for name in used if not name.startswith("shadow_")}
    assert {"http_requests_total", "drift_status"} <= used, sorted(used)

    # The render's config: its job's target becomes the server, every interval 1 s.
    (job,) = [scrape for scrape in config["scrape_configs"] if scrape["job_name"] == slug]
    server_port, prometheus_port = free_port(), free_port()
    while prometheus_port == server_port:
        prometheus_port = free_port()
    job["static_configs"] = [{"targets": [f"127.0.0.1:{server_port}"]}]
    config["global"] = config.get("global") or {}
    for settings in (job, config["global"]):  # a timeout may not exceed the interval
        settings.pop("scrape_interval", None)
        settings.pop("scrape_timeout", None)
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(path) for path in rule_files]
    scratch_config = tmp_path / "prometheus.yml"
    scratch_config.write_text(yaml.safe_dump(config))

    reports = tmp_path / "reports"
    package = str(project.answers["package_name"])
    trained_copy.python(
        "-m",
        package,
        "--quiet",
        "monitor",
        "--current",
        "data/test.csv",
        "--report-dir",
        str(reports),
    )
    env = trained_copy.env | {
        "MODEL_SERVER_DRIFT_REPORT_DIR": str(reports),
        "MODEL_SERVER_PREDICTION_LOG": str(tmp_path / "predictions.jsonl"),
    }
    serve = [str(trained_copy.venv / "bin" / "python"), "-m", package, "serve"]
    serve += ["--host", "127.0.0.1", "--port", str(server_port)]
    log = tmp_path / "prometheus.log"
    base, api = f"http://127.0.0.1:{server_port}", f"http://127.0.0.1:{prometheus_port}"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            serve, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        scraper = subprocess.Popen(
            [
                prometheus,
                f"--config.file={scratch_config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            cwd=tmp_path,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until_ready(base, server, 120)
            _wait_for_prometheus(api, scraper, log)
            records = demo_records(work, 40)
            for _ in range(3):
                good = json.dumps({"records": records}).encode()
                assert call_json(f"{base}/predict", good)[0] == 200
            _report_live_performance(trained_copy, package, tmp_path, reports)
            first = next(iter(records[0]))
            missing = {"records": [{k: v for k, v in records[0].items() if k != first}]}
            assert call_json(f"{base}/predict", json.dumps(missing).encode())[0] == 422
            assert call_json(f"{base}/predict", b'{"records": [')[0] == 400

            deadline = time.monotonic() + SETTLE_SECONDS
            while True:
                absent = {
                    name
                    for name in used
                    if not _get(api, "/api/v1/series", **{"match[]": f'{name}{{job="{slug}"}}'})
                }
                loaded = {
                    rule["name"]: rule
                    for group in _get(api, "/api/v1/rules", type="alert")["groups"]
                    for rule in group["rules"]
                }
                unhealthy = {
                    name: loaded[name].get("lastError", loaded[name]["health"])
                    for name in alerts & loaded.keys()
                    if loaded[name]["health"] != "ok"
                }
                settled = not absent and alerts <= loaded.keys() and not unhealthy
                if settled or time.monotonic() > deadline:
                    break
                time.sleep(1)
            targets = [
                (target["scrapeUrl"], target["health"], target["lastError"])
                for target in _get(api, "/api/v1/targets")["activeTargets"]
            ]
            assert not absent, f"no series with job={slug}: {sorted(absent)}; targets {targets}"
            assert alerts <= loaded.keys(), f"not loaded: {sorted(alerts - loaded.keys())}"
            assert not unhealthy, f"unhealthy alert rules: {unhealthy}"
        finally:
            scraper.terminate()
            server.terminate()
            scraper.wait(timeout=60)
            output = server.communicate(timeout=60)[0]
    assert "Traceback" not in output, output
