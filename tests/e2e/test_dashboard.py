"""The Grafana dashboard and Prometheus config in docker/monitoring ask for what the service
really exposes: every metric a panel queries is one /metrics names, and Prometheus scrapes the
ports compose gives the API and the worker."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import yaml
from fastapi.testclient import TestClient

from tests.kit.servers import ROOT

MONITORING = ROOT / "docker" / "monitoring"
METRIC = re.compile(r"\bwangge_[a-z0-9_]+")


def exposed(client: TestClient) -> set[str]:
    text = client.get("/metrics").text
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    return names | {n + "_total" for n in names} | {n + "_bucket" for n in names}


def test_every_panel_queries_an_exposed_metric(client: TestClient) -> None:
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "wangge.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in METRIC.findall(target["expr"])
    }
    assert len(queried) >= 12, queried
    assert queried - exposed(client) == set()
    for needed in ("wangge_sla_breaches_total", "wangge_outbox_pending", "wangge_sse_clients",
                   "wangge_worker_heartbeat_age_seconds", "wangge_rq_jobs"):  # fmt: skip
        assert needed in queried, needed


def test_prometheus_scrapes_the_ports_compose_opens() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets == {"wangge-api": ["api:8000"], "wangge-worker": ["worker:9101"]}
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose not found: scripts/bootstrap.sh test installs it (make test)"
    rendered = subprocess.run(
        [exe, "-f", str(ROOT / "docker" / "compose.yml"), "--profile", "monitoring", "config"],
        capture_output=True, text=True, check=True,
        env={"WANGGE_SECRET_KEY": "x", "PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    services = yaml.safe_load(rendered)["services"]
    worker_env = services["worker"]["environment"]
    assert worker_env["WANGGE_WORKER_METRICS_PORT"] == "9101"
    assert worker_env["WANGGE_WORKER_METRICS_ADDRESS"] == "0.0.0.0"
    assert "--port" in services["api"]["command"] and "8000" in services["api"]["command"]
    assert {"prometheus", "grafana"} <= set(services)
