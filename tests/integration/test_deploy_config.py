"""docker-compose.yml and the nginx config, tested without a Docker engine."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.attachments.uploads import MULTIPART_OVERHEAD
from hub.config import generate_signing_key, load_config
from tests.processes import free_port
from tests.services import require_executable, require_s3

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "x7G!k2pQ9z#Lm4Vb8Nc1Rt6Yw3Ue5Io0As-Df_Gh+Jk=Lz;Xc,Vb.Nm/Qw"
S3_SECRET = "s3-secret-of-the-deployment"
# The variables compose refuses to start without.
SECRETS = {"SECRET_KEY": STRONG_KEY, "HUB_ATTACHMENTS_S3_SECRET_KEY": S3_SECRET}
HUB_IMAGE = "border-coordination-hub:latest"
EMAIL_VARIABLES = {
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "DEFAULT_FROM_EMAIL",
}


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        current = environ.get(name, "")
        if op == ":-":
            return current or arg
        if op == ":?" and not current:
            raise ValueError(f"compose would refuse to start: {name}: {arg}")
        return current

    pattern = r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}"
    return re.sub(pattern, substitute, value)


def service_environment(
    compose: dict[str, Any], name: str, environ: Mapping[str, str]
) -> dict[str, str]:
    return {
        key: interpolate(str(value), environ)
        for key, value in compose["services"][name]["environment"].items()
    }


def dockerfile_env() -> dict[str, str]:
    """The final stage's ENV (KEY=value pairs)."""
    text = (ROOT / "Dockerfile").read_text()
    final_stage = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", final_stage, re.M):
        for pair in line.split():
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def dockerfile_healthcheck() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$", text, re.M)
    assert match is not None, "the Dockerfile's HEALTHCHECK must use the exec form: CMD [...]"
    command: list[str] = json.loads(match.group(1))
    return command


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
    assert escalations["command"][:3] == ["python", "manage.py", "run_escalations"]
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
    # The signing key (made when missing: production settings need it), then the
    # schema, then the standard SOPs: a fresh deployment can start operations.
    assert migrate["command"] == [
        "sh",
        "-c",
        "python -m hub.keygen /app/var/signing/ed25519.pem"
        " && python manage.py migrate --noinput && python manage.py load_sops"
        " && python manage.py ensure_attachment_bucket --wait 60",
    ]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["seaweedfs"]["condition"] == "service_healthy"


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
    assert hub["healthcheck"]["test"] == [
        "CMD",
        "python",
        "-m",
        "hub.probe",
        "http://127.0.0.1:8000/readyz",
    ]


def test_every_service_running_the_hub_builds_its_image(compose: dict[str, Any]) -> None:
    # Each can start alone (`docker compose up escalations`) without another
    # service having built the image first.
    users = [name for name, svc in compose["services"].items() if svc.get("image") == HUB_IMAGE]
    assert set(users) == {"migrate", "hub-a", "hub-b", "escalations"}
    for name in users:
        assert compose["services"][name]["build"] == ".", name


def test_the_one_shot_migration_disables_the_image_health_check(
    compose: dict[str, Any],
) -> None:
    assert compose["services"]["migrate"]["healthcheck"] == {"disable": True}


def heartbeat_of(compose: dict[str, Any]) -> tuple[str, list[str]]:
    """The file the escalation loop writes, and the health check that reads it."""
    service = compose["services"]["escalations"]
    command = service["command"]
    path = command[command.index("--heartbeat") + 1]
    return path, service["healthcheck"]["test"]


def test_escalation_health_check_reads_the_loops_heartbeat(compose: dict[str, Any]) -> None:
    path, test = heartbeat_of(compose)
    assert test[:5] == ["CMD", "python", "-m", "hub.probe", "--fresh"]
    assert test[5] == path
    # Stale after four missed sweeps (HUB_ESCALATION_INTERVAL is 15 s).
    assert float(test[6]) == 60


@pytest.mark.django_db
def test_escalation_health_check_runs_against_the_loops_heartbeat(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    from django.core.management import call_command

    path, test = heartbeat_of(compose)
    here = str(tmp_path / Path(path).name)
    command = [sys.executable, *(here if arg == path else arg for arg in test[2:])]

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        )

    assert check().returncode == 1  # no sweep yet: unhealthy
    call_command("run_escalations", "--once", "--heartbeat", here)
    assert check().returncode == 0, check().stderr
    old = time.time() - 120
    os.utime(here, (old, old))  # the loop stopped sweeping two minutes ago
    stale = check()
    assert stale.returncode == 1
    assert "old" in stale.stderr


def test_compose_passes_the_email_settings(compose: dict[str, Any]) -> None:
    for name in ("hub-a", "hub-b", "escalations"):
        assert set(compose["services"][name]["environment"]) >= EMAIL_VARIABLES, name
    env = service_environment(
        compose,
        "escalations",
        {
            **SECRETS,
            "EMAIL_HOST": "smtp.example.org",
            "EMAIL_PORT": "587",
            "EMAIL_HOST_USER": "hub",
            "EMAIL_HOST_PASSWORD": "pw",
            "EMAIL_USE_TLS": "true",
            "DEFAULT_FROM_EMAIL": "BCOCC <bcocc@example.org>",
        },
    )
    email = load_config(with_local_signing_key(env)).email
    assert email.backend == "django.core.mail.backends.smtp.EmailBackend"
    assert (email.host, email.port, email.host_user, email.host_password) == (
        "smtp.example.org",
        587,
        "hub",
        "pw",
    )
    assert email.use_tls is True
    assert email.default_from == "BCOCC <bcocc@example.org>"
    # Nothing set: the compose file's empty values still give a valid configuration.
    assert load_config(with_local_signing_key(service_environment(compose, "escalations", SECRETS)))


def with_local_signing_key(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the compose signing key path (on the `signing` volume, made by the
    migrate job) replaced by a key made here."""
    assert env["HUB_SIGNING_KEY_FILE"] == "/app/var/signing/ed25519.pem"
    path = Path(tempfile.mkdtemp(prefix="hub-test-compose-key-")) / "ed25519.pem"
    generate_signing_key(path)
    return {**env, "HUB_SIGNING_KEY_FILE": str(path)}


def test_compose_requires_a_secret_key(compose: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        service_environment(compose, "hub-a", {})
    with pytest.raises(ValueError, match="HUB_ATTACHMENTS_S3_SECRET_KEY"):
        service_environment(compose, "hub-a", {"SECRET_KEY": STRONG_KEY})
    with pytest.raises(ValueError, match="HUB_ATTACHMENTS_S3_SECRET_KEY"):
        service_environment(compose, "seaweedfs", {})


def test_evidence_files_go_to_the_seaweedfs_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    store = services["seaweedfs"]
    assert store["image"].startswith("chrislusf/seaweedfs:")
    assert store["command"][0] == "server"
    assert "-s3" in store["command"]
    assert "-s3.port=8333" in store["command"]
    assert "seaweedfs:/data" in store["volumes"]
    assert "seaweedfs" in compose["volumes"]
    assert "ports" not in store  # only the hub reaches it
    assert store["healthcheck"]["test"][-1] == "http://127.0.0.1:8333/healthz"
    # Its admin identity is the hub's key pair.
    store_env = service_environment(compose, "seaweedfs", SECRETS)
    assert store_env == {"AWS_ACCESS_KEY_ID": "hub", "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    for name in ("hub-a", "hub-b", "escalations", "migrate"):
        env = service_environment(compose, name, SECRETS)
        assert env["HUB_ATTACHMENTS_S3_ENDPOINT"] == "http://seaweedfs:8333", name
        assert env["HUB_ATTACHMENTS_S3_BUCKET"] == "hub-attachments", name
        assert env["HUB_ATTACHMENTS_S3_ACCESS_KEY"] == store_env["AWS_ACCESS_KEY_ID"], name
        assert env["HUB_ATTACHMENTS_S3_SECRET_KEY"] == store_env["AWS_SECRET_ACCESS_KEY"], name
        if name != "migrate":
            assert services[name]["depends_on"]["seaweedfs"]["condition"] == "service_healthy"
    config = load_config(with_local_signing_key(service_environment(compose, "hub-a", SECRETS)))
    assert config.attachments_s3 is not None
    assert config.attachments_s3.endpoint == "http://seaweedfs:8333"


# --- the health checks, run for real against production settings ---------------------


def as_run_here(command: list[str], port: int) -> list[str]:
    """A healthcheck ``CMD`` as this machine runs it: our python, the server's port."""
    if command[0] == "CMD":
        command = command[1:]
    assert command[0] == "python", command
    return [sys.executable, *(arg.replace(":8000/", f":{port}/") for arg in command[1:])]


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the server answers anything at all (even 400): the checks are asserted after."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited early:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback test URL
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise TimeoutError(f"daphne did not answer:\n{log.read_text(errors='replace')}")


REPLICA_BUCKET = "hub-replica"


@pytest.fixture
def production_replica(
    compose: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[int, dict[str, str]]]:
    """Daphne with a replica's compose environment, as the container runs it.

    Only the backing-service addresses change: compose's ``postgres``/``redis``/
    ``seaweedfs`` host names do not resolve here, so the database is a fresh SQLite
    file, the channel layer is in-memory and the evidence files go to this test
    run's SeaweedFS. Host handling, SSL redirects and the rest of
    the production settings are the real ones.
    """
    container_env = {
        **dockerfile_env(),
        **service_environment(compose, "hub-a", {**SECRETS, "HUB_HOSTNAME": "bcocc.example.net"}),
    }
    container_env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    # The signing key the migrate job makes on the `signing` volume: made here.
    assert container_env["HUB_SIGNING_KEY_FILE"] == "/app/var/signing/ed25519.pem"
    container_env["HUB_SIGNING_KEY_FILE"] = str(tmp_path / "signing" / "ed25519.pem")
    generate_signing_key(tmp_path / "signing" / "ed25519.pem")
    del container_env["REDIS_URL"]
    # The evidence files: this test run's SeaweedFS in place of the seaweedfs service.
    store = require_s3()
    if REPLICA_BUCKET not in store.buckets:
        store.create_bucket(REPLICA_BUCKET)
    container_env.update(store.env(REPLICA_BUCKET))
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        **container_env,
    }
    log = tmp_path / "daphne.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port)),
                *("--proxy-headers", "hub.asgi:application"),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", process, log)
        yield port, env
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.mark.slow
def test_container_health_checks_pass_under_production_settings(
    compose: dict[str, Any], production_replica: tuple[int, dict[str, str]]
) -> None:
    port, env = production_replica
    assert env["ALLOWED_HOSTS"] == "bcocc.example.net"
    # What the checks used to do (urlopen with Host: 127.0.0.1) gets 400 here:
    # production answers DisallowedHost. This is the failure the checks must avoid.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert refused.value.code == 400

    checks = {
        "docker-compose.yml hub-a": compose["services"]["hub-a"]["healthcheck"]["test"],
        "docker-compose.yml hub-b": compose["services"]["hub-b"]["healthcheck"]["test"],
        "Dockerfile HEALTHCHECK": dockerfile_healthcheck(),
    }
    for where, command in checks.items():
        result = subprocess.run(
            as_run_here(command, port),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, f"{where}: {command} -> {result.stderr}"


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


def test_proxy_health_check_asks_nginx_to_serve(compose: dict[str, Any]) -> None:
    test = compose["services"]["proxy"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "curl"], "nginx -t only checks the syntax, not that nginx serves"
    assert "-f" in " ".join(test[2:])  # curl -f: an HTTP error is a failed check
    assert test[-1] == "http://127.0.0.1/proxy-healthz"


def nginx_config_for_here(tmp_path: Path, port: int, upstream: int | None = None) -> Path:
    """deploy/nginx.conf, runnable by this user on a free port."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    # Compose's service names do not resolve here: point the upstreams at closed ports,
    # or both at ``upstream``.
    a, b = ("127.0.0.1:1", "127.0.0.1:2") if upstream is None else (f"127.0.0.1:{upstream}",) * 2
    conf = conf.replace("hub-a:8000", a).replace("hub-b:8000", b)
    conf = conf.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    assert "listen 80;" in conf
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = conf.replace("http {\n", "http {\n" + temp_paths, 1)
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    return path


def test_nginx_serves_the_proxy_health_check(compose: dict[str, Any], tmp_path: Path) -> None:
    nginx = require_executable("nginx", "install Debian's nginx to check deploy/nginx.conf")
    port = free_port()
    conf = nginx_config_for_here(tmp_path, port)
    url = compose["services"]["proxy"]["healthcheck"]["test"][-1].replace(
        "127.0.0.1/", f"127.0.0.1:{port}/"
    )
    process = subprocess.Popen(
        [
            *(nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)),
            *("-g", "daemon off;"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    assert response.status == 200
                    assert response.read() == b"ok\n"
                    break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        (tmp_path / "error.log").read_text(errors="replace")
                    ) from None
                time.sleep(0.1)
        # The stub is no catch-all: the hub's paths go to the (absent) replicas.
        with pytest.raises(urllib.error.HTTPError) as proxied:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert proxied.value.code == 502
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_nginx_config_lets_evidence_uploads_through_only_on_the_upload_route() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"^    client_max_body_size 512k;$", conf, re.M)  # http-wide
    upload = re.search(
        r"location ~ \^/api/v1/incidents/\[\^/\]\+/attachments\$ \{(.*?)\}", conf, re.S
    )
    assert upload is not None
    envelope = (load_config({}).attachment_max_bytes + MULTIPART_OVERHEAD) // 1024
    assert f"client_max_body_size {envelope}k;" in upload.group(1)
    assert "proxy_request_buffering off;" in upload.group(1)
    assert "HUB_ATTACHMENT_MAX_BYTES" in conf  # the comment that ties the two together
    assert conf.count("client_max_body_size") == 2


class _Sink(http.server.BaseHTTPRequestHandler):
    """A stand-in hub: reads the whole body, answers 201 with its length."""

    def do_POST(self) -> None:
        remaining = int(self.headers.get("Content-Length", "0"))
        received = 0
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            received += len(chunk)
            remaining -= len(chunk)
        body = str(received).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _post(url: str, size: int) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310
        url, data=b"x" * size, method="POST", headers={"Content-Type": "application/octet-stream"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (ConnectionResetError, BrokenPipeError):
        return 413, b""  # nginx answered 413 and closed while the body was still going


def test_nginx_passes_evidence_uploads_and_refuses_oversized_ones(tmp_path: Path) -> None:
    nginx = require_executable("nginx", "install Debian's nginx to check deploy/nginx.conf")
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    port = free_port()
    conf = nginx_config_for_here(tmp_path, port, upstream=sink.server_address[1])
    process = subprocess.Popen(
        [
            *(nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)),
            *("-g", "daemon off;"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/proxy-healthz", timeout=2):  # noqa: S310
                    break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        (tmp_path / "error.log").read_text(errors="replace")
                    ) from None
                time.sleep(0.1)
        upload = f"{base}/api/v1/incidents/INC-2026-0001/attachments"
        assert _post(upload, 1024 * 1024) == (201, str(1024 * 1024).encode())
        assert _post(upload, 25 * 1024 * 1024) == (201, str(25 * 1024 * 1024).encode())
        assert _post(upload, 30 * 1024 * 1024)[0] == 413
        # Everywhere else the limit stays 512k.
        assert _post(f"{base}/api/v1/incidents/INC-2026-0001/messages", 1024 * 1024)[0] == 413
        assert _post(f"{base}/api/v1/incidents/INC-2026-0001/attachments/x", 1024 * 1024)[0] == 413
        # (a small body: nginx keeps it in memory; a larger one would go to a temp file
        # that nginx's worker, another user when the tests run as root, cannot open here)
        assert _post(f"{base}/api/v1/incidents", 8 * 1024)[0] == 201
    finally:
        process.terminate()
        process.wait(timeout=15)
        sink.shutdown()
        sink.server_close()


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = require_executable("nginx", "install Debian's nginx to check deploy/nginx.conf")
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
    nginx = require_executable("nginx", "install Debian's nginx to check deploy/nginx.conf")
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


def test_every_manage_py_command_in_compose_exists(compose: dict[str, Any]) -> None:
    from django.core.management import get_commands

    named = set()
    for service in compose["services"].values():
        command = service.get("command")
        text = " ".join(command) if isinstance(command, list) else str(command or "")
        named |= set(re.findall(r"manage\.py (\w+)", text))
    assert {"migrate", "load_sops", "run_escalations"} <= named
    assert named <= set(get_commands()), named - set(get_commands())
