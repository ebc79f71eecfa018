"""The web app as Django serves it: the shell on every client-side path, its
Content-Security-Policy, and the build's root files (/sw.js, /manifest.webmanifest).

The paths the shell must not swallow (the API, the admin, static files, the socket,
the health checks) keep their own answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.http import HttpResponseBase
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

SHELL_MARK = '<div id="hub-app">'
CLIENT_SIDE_PATHS = [
    "/",
    "/points/WDH",
    "/points/WDH/",
    "/points/WDH/operations",
    "/incidents/WDH-2026-0001",
    "/incidents/WDH-2026-0001/review",
    "/alerts/12",
    "/report",
    "/operations/OP-WDH-2026-0001",
    "/search",
    "/search?q=passport",
    "/apis",  # only /api/ is the API
    "/adminx",
    "/healthzz",
]


def csp(host: str) -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: blob:; font-src 'self'; "
        f"connect-src 'self' ws://{host} wss://{host}; worker-src 'self'; "
        "manifest-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def is_shell(response: HttpResponseBase) -> bool:
    return SHELL_MARK in getattr(response, "content", b"").decode("utf-8", "replace")


@pytest.fixture
def built(tmp_path: Path) -> Iterator[Path]:
    """A frontend build (FRONTEND_DIST) with an entry chunk, a service worker and a manifest."""
    (tmp_path / ".vite").mkdir()
    (tmp_path / ".vite" / "manifest.json").write_text(
        json.dumps(
            {
                "src/main.tsx": {
                    "file": "assets/main-3f2a.js",
                    "css": ["assets/main-9c1d.css"],
                    "isEntry": True,
                    "src": "src/main.tsx",
                }
            }
        )
    )
    (tmp_path / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    (tmp_path / "manifest.webmanifest").write_text(
        json.dumps({"name": "Border Coordination Hub", "start_url": "/"})
    )
    with override_settings(FRONTEND_DIST=tmp_path):
        yield tmp_path


@pytest.fixture
def unbuilt(tmp_path: Path) -> Iterator[Path]:
    """No frontend build at all (a machine without Node)."""
    with override_settings(FRONTEND_DIST=tmp_path / "dist"):
        yield tmp_path


@pytest.mark.parametrize("path", CLIENT_SIDE_PATHS)
def test_every_client_side_path_answers_with_the_shell(path: str, unbuilt: Path) -> None:
    response = Client().get(path)
    assert response.status_code == 200, path
    assert response["Content-Type"].startswith("text/html")
    assert is_shell(response), path
    assert response["Content-Security-Policy"] == csp("testserver")
    assert "csrftoken" in response.cookies, "the shell sets the CSRF cookie for the app's writes"


def test_head_gets_the_shell_and_other_methods_do_not(unbuilt: Path) -> None:
    client = Client()
    head = client.head("/incidents/WDH-2026-0001")
    assert head.status_code == 200
    assert head["Content-Security-Policy"] == csp("testserver")
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)("/incidents/WDH-2026-0001")
        assert response.status_code == 405, method
        assert not is_shell(response), method
        assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_the_policy_names_the_host_the_request_named(unbuilt: Path) -> None:
    response = Client().get("/points/WDH", HTTP_HOST="localhost:8000")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == csp("localhost:8000")
    assert (
        "connect-src 'self' ws://localhost:8000 wss://localhost:8000;"
        in (response["Content-Security-Policy"])
    )


def test_a_host_outside_allowed_hosts_gets_no_shell(unbuilt: Path) -> None:
    response = Client().get("/points/WDH", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert not is_shell(response)
    assert "evil.example" not in response.get("Content-Security-Policy", "")


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/incidents/X/nope/deeper", "/api/unknown", "/api/"]
)
def test_unknown_api_paths_stay_json_404(path: str, unbuilt: Path) -> None:
    response = Client().get(path)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such endpoint."}
    assert "Content-Security-Policy" not in response


def test_the_admin_keeps_its_own_behaviour(unbuilt: Path) -> None:
    client = Client()
    bare = client.get("/admin")
    assert bare.status_code == 301
    assert bare["Location"] == "/admin/"
    index = client.get("/admin/")
    assert index.status_code == 302
    assert index["Location"].startswith("/admin/login/")
    login = client.get("/admin/login/")
    assert login.status_code == 200
    assert 'name="username"' in login.content.decode()
    assert not is_shell(login)
    assert "Content-Security-Policy" not in login
    unknown = client.get("/admin/no/such/page/")
    assert unknown.status_code in {302, 404}
    assert not is_shell(unknown)


@pytest.mark.parametrize(
    "path", ["/static/missing.js", "/static/app/assets/missing.css", "/static", "/ws/", "/ws"]
)
def test_static_and_socket_paths_are_not_the_shell(path: str, unbuilt: Path) -> None:
    response = Client().get(path)
    assert response.status_code == 404, path
    assert not is_shell(response), path


def test_health_checks_are_not_the_shell(unbuilt: Path) -> None:
    client = Client()
    healthz = client.get("/healthz")
    assert healthz.status_code == 200
    assert healthz["Content-Type"].startswith("application/json")
    assert "Content-Security-Policy" not in healthz
    assert not is_shell(client.get("/readyz"))
    assert client.get("/healthz/").status_code == 404
    assert not is_shell(client.get("/readyz/extra"))


class ShellMarkup(HTMLParser):
    """Every element with its attributes, and any text inside <script>/<style>."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.inline_code: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._open = tag if tag in {"script", "style"} else None

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None and data.strip():
            self.inline_code.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]


def parse(response: HttpResponseBase) -> ShellMarkup:
    markup = ShellMarkup()
    markup.feed(getattr(response, "content", b"").decode())
    return markup


def assert_no_inline_code(markup: ShellMarkup) -> None:
    assert markup.inline_code == []
    assert markup.all("style") == []
    for tag, attrs in markup.elements:
        assert "style" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), tag
    for script in markup.all("script"):
        assert script.get("src"), "every script is a file from this origin"


def assert_minimal_shell(markup: ShellMarkup) -> None:
    assert markup.all("html") == [{"lang": "en", "dir": "ltr"}]
    assert {"rel": "manifest", "href": "/manifest.webmanifest"} in markup.all("link")
    assert {"name": "theme-color", "content": "#12355b"} in markup.all("meta")
    assert markup.all("div")[0] == {"id": "hub-app"}
    # The app renders its own header, status and links.
    assert markup.all("header") == []
    assert markup.all("footer") == []
    assert markup.all("a") == []
    assert not any("data-hub-status" in attrs for _, attrs in markup.elements)


def test_the_built_shell_loads_the_entry_files_and_nothing_inline(built: Path) -> None:
    response = Client().get("/incidents/WDH-2026-0001")
    assert response.status_code == 200
    markup = parse(response)
    assert_minimal_shell(markup)
    assert_no_inline_code(markup)
    assert markup.all("script") == [{"type": "module", "src": "/static/app/assets/main-3f2a.js"}]
    assert {"rel": "stylesheet", "href": "/static/app/assets/main-9c1d.css"} in markup.all("link")
    assert "has not been built" not in response.content.decode()


def test_the_unbuilt_shell_says_so(unbuilt: Path) -> None:
    response = Client().get("/")
    markup = parse(response)
    assert_minimal_shell(markup)
    assert_no_inline_code(markup)
    assert markup.all("script") == []
    notice = response.content.decode().split(SHELL_MARK, 1)[1].split("</div>", 1)[0]
    assert "The web app has not been built" in notice
    assert "make run" in notice


def test_the_service_worker_is_served_from_the_site_root(built: Path) -> None:
    client = Client()
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.content == (built / "sw.js").read_bytes()
    assert response["Content-Type"] == "text/javascript"
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    assert "Content-Security-Policy" not in response
    again = client.get("/sw.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert client.head("/sw.js").status_code == 200
    assert client.post("/sw.js").status_code == 405


def test_the_web_manifest_is_served_from_the_site_root(built: Path) -> None:
    response = Client().get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    assert json.loads(response.content) == {"name": "Border Coordination Hub", "start_url": "/"}


def test_a_new_build_is_served_at_once(built: Path) -> None:
    client = Client()
    first = client.get("/sw.js")
    (built / "sw.js").write_text("// build 2\n")
    second = client.get("/sw.js", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200
    assert second.content == b"// build 2\n"


@pytest.mark.parametrize("path", ["/sw.js", "/manifest.webmanifest"])
def test_root_files_are_404_without_a_build(path: str, unbuilt: Path) -> None:
    response = Client().get(path)
    assert response.status_code == 404
    assert not is_shell(response)
