"""README.md documents every environment variable the hub, its tests and compose read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *sorted((ROOT / "hub").rglob("*.py")),
    ROOT / "tests" / "services.py",
    *sorted((ROOT / "tests" / "e2e").glob("*.py")),
]


def variables_read() -> set[str]:
    names: set[str] = set()
    for path in SOURCES:
        text = path.read_text()
        names |= set(re.findall(r"""environ(?:\.get)?[(\[]\s*["']([A-Z][A-Z0-9_]+)["']""", text))
        names |= set(re.findall(r"""getenv\(\s*["']([A-Z][A-Z0-9_]+)["']""", text))
    # load_config(environ) reads through a parameter named environ, as above;
    # docker-compose.yml interpolates ${NAME...}.
    compose = (ROOT / "docker-compose.yml").read_text()
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", compose))
    # Set by the code itself, not by users.
    return names - {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def test_every_environment_variable_is_in_the_readme() -> None:
    names = variables_read()
    assert {"SECRET_KEY", "EMAIL_HOST", "HUB_TEST_REDIS_URL", "HUB_HOSTNAME", "CI"} <= names
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert not missing, f"README.md does not document: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make run", "make test"]
