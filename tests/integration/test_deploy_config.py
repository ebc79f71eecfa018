"""docker-compose.yml and the nginx config, tested without a Docker engine."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services import require_executable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_has_the_scale_out_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "hub-a", "hub-b", "proxy", "escalations"} <= set(
        services
    )


def test_escalation_loop_is_a_service(compose: dict[str, Any]) -> None:
    escalations = compose["services"]["escalations"]
    assert escalations["command"] == ["python", "manage.py", "run_escalations"]
    assert escalations["restart"] == "unless-stopped"
    assert escalations["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert escalations["environment"]["DATABASE_URL"].startswith("postgres://")


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_backing_services_have_health_checks(compose: dict[str, Any], name: str) -> None:
    check = compose["services"][name]["healthcheck"]
    assert check["test"], name
    assert check["retries"] >= 3


def test_migrate_is_one_shot_after_postgres(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["hub-a", "hub-b"])
def test_two_daphne_replicas_share_postgres_and_redis(compose: dict[str, Any], name: str) -> None:
    hub = compose["services"][name]
    env = hub["environment"]
    assert env["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["HUB_ENV"] == "production"
    deps = hub["depends_on"]
    assert deps["migrate"]["condition"] == "service_completed_successfully"
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["redis"]["condition"] == "service_healthy"
    assert "readyz" in " ".join(hub["healthcheck"]["test"])


def test_dockerfile_serves_with_daphne() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"daphne"' in dockerfile
    assert "hub.asgi:application" in dockerfile


def test_proxy_mounts_the_repo_config_and_balances_both_replicas(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert set(proxy["depends_on"]) == {"hub-a", "hub-b"}
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream hub \{(.*?)\}", conf, re.S)
    assert upstream is not None
    servers = re.findall(r"server ([\w-]+):8000", upstream.group(1))
    assert servers == ["hub-a", "hub-b"]
    ws = re.search(r"location /ws/ \{(.*?)\}", conf, re.S)
    assert ws is not None
    assert "proxy_set_header Upgrade $http_upgrade;" in ws.group(1)
    assert "proxy_set_header Connection $connection_upgrade;" in ws.group(1)
    assert "proxy_http_version 1.1;" in ws.group(1)


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = require_executable("nginx", "install Debian's nginx-light to check deploy/nginx.conf")
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    # Compose's service names do not resolve here; the syntax is what is checked.
    conf = conf.replace("hub-a:8000", "127.0.0.1:18001").replace("hub-b:8000", "127.0.0.1:18002")
    conf = conf.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_nginx_rejects_a_broken_config(tmp_path: Path) -> None:
    # Guards the test above against an nginx that accepts anything.
    nginx = require_executable("nginx", "install Debian's nginx-light to check deploy/nginx.conf")
    path = tmp_path / "broken.conf"
    path.write_text("events {}\nhttp { upstream hub { server; } }\n")
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
