"""The CI=true rules, run for real: pytest in a subprocess on generated test files.

- tests/services.py: a test whose service is missing skips, and fails under CI=true;
- tests/conftest.py: under CI=true, any other skip fails unless its reason is on
  CI_ALLOWED_SKIPS (a test that runs in another pass of .ci/run).

The generated suite runs twice (without and with CI=true); the tests read the outcomes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEAD_REDIS = "redis://127.0.0.1:1/0"  # port 1 on loopback refuses connections

pytestmark = pytest.mark.slow

GENERATED = {
    "test_needs_redis.py": """
        from tests.services import require_redis


        def test_needs_redis():
            require_redis()
    """,
    "test_mixed_skips.py": """
        import pytest


        def test_plain_skip():
            pytest.skip("the widget service is not installed")


        @pytest.mark.skip(reason="not today")
        def test_marked_skip():
            pass


        def test_allowed_skip():
            pytest.skip("only on PostgreSQL (runs in the PostgreSQL pass)")


        @pytest.mark.xfail(reason="a known bug", strict=True)
        def test_expected_failure():
            assert False


        def test_passes():
            pass
    """,
    "test_module_skip.py": """
        import pytest

        pytest.skip("optional dependency missing", allow_module_level=True)


        def test_never_collected():
            pass
    """,
}


class Run:
    """One pytest run over the generated files, with every test's outcome."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.returncode = result.returncode
        self.output = result.stdout + result.stderr
        # -rA lists every test: "PASSED path::name", "SKIPPED [1] path:4: reason", ...
        self.outcomes: dict[str, str] = {}
        for word, name in re.findall(
            r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) \S*::(\w+)", self.output, re.M
        ):
            self.outcomes[name] = word
        self.skip_reasons = re.findall(r"^SKIPPED \[\d+\] \S+: (.*)$", self.output, re.M)


def run_suite(directory: Path, *, ci: bool) -> Run:
    """pytest configured as the project's suite (tests/conftest.py loaded as a plugin)."""
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS"}}
    env.update({"REDIS_URL": DEAD_REDIS, "HUB_TEST_REDIS_URL": DEAD_REDIS})
    if ci:
        env["CI"] = "true"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", *sorted(str(p) for p in directory.iterdir())),
            *("-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)),
            *(
                "-p",
                "tests.conftest",
                "-p",
                "no:cacheprovider",
                "-rA",
                "--continue-on-collection-errors",
            ),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return Run(result)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("generated_suite")
    for name, source in GENERATED.items():
        (directory / name).write_text(textwrap.dedent(source))
    return directory


@pytest.fixture(scope="module")
def without_ci(generated: Path) -> Run:
    return run_suite(generated, ci=False)


@pytest.fixture(scope="module")
def under_ci(generated: Path) -> Run:
    return run_suite(generated, ci=True)


def test_without_ci_missing_services_and_other_skips_skip(without_ci: Run) -> None:
    assert without_ci.returncode == 0, without_ci.output
    assert without_ci.outcomes == {"test_expected_failure": "XFAIL", "test_passes": "PASSED"}
    reasons = "\n".join(without_ci.skip_reasons)
    assert len(without_ci.skip_reasons) == 5, without_ci.output
    assert f"Redis is not available: {DEAD_REDIS}" in reasons
    assert "the widget service is not installed" in reasons
    assert "optional dependency missing" in reasons


def test_under_ci_a_missing_service_fails(under_ci: Run) -> None:
    assert under_ci.returncode != 0, under_ci.output
    assert under_ci.outcomes["test_needs_redis"] == "FAILED", under_ci.output
    assert "(CI=true: tests that need a service must run)" in under_ci.output


def test_under_ci_skips_fail_unless_allowlisted(under_ci: Run) -> None:
    outcomes = under_ci.outcomes
    assert outcomes["test_plain_skip"] == "FAILED", under_ci.output
    # A skip at setup (the marker) reports as an error: a failure all the same.
    assert outcomes["test_marked_skip"] == "ERROR", under_ci.output
    assert "CI=true: skipped tests fail in CI (the widget service is not installed)" in (
        under_ci.output
    )
    assert "CI=true: skipped tests fail in CI (not today)" in under_ci.output
    # The allowlisted reason (the PostgreSQL-only test) stays a skip; xfail is no skip.
    assert "test_allowed_skip" not in outcomes
    assert any("runs in the PostgreSQL pass" in r for r in under_ci.skip_reasons)
    assert outcomes["test_expected_failure"] == "XFAIL"
    assert outcomes["test_passes"] == "PASSED"


def test_under_ci_a_module_level_skip_fails(under_ci: Run) -> None:
    assert "CI=true: skipped tests fail in CI (optional dependency missing)" in under_ci.output
    assert not any("optional dependency missing" in r for r in under_ci.skip_reasons)
