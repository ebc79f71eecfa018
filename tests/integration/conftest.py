"""Integration-test plumbing: the authorization matrices report their size.

A matrix cell test calls ``record_property(MATRIX_PROPERTY, "<matrix name>")``;
the terminal summary then says how many cells ran and passed, so CI logs show
"authorization matrix: N cells checked" (a ``print`` in a test is swallowed by
pytest's output capture).
"""

from __future__ import annotations

from collections import Counter

import pytest

MATRIX_PROPERTY = "authorization_matrix"


def _matrix_counts(reports: list[pytest.TestReport]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for report in reports:
        if getattr(report, "when", "call") != "call":
            continue
        for key, value in getattr(report, "user_properties", ()):
            if key == MATRIX_PROPERTY:
                counts[str(value)] += 1
    return counts


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    passed = _matrix_counts(terminalreporter.stats.get("passed", []))
    failed = _matrix_counts(terminalreporter.stats.get("failed", []))
    if not passed and not failed:
        return
    line = f"authorization matrix: {sum(passed.values())} cells checked"
    if failed:
        line += f", {sum(failed.values())} failed"
    names = sorted(set(passed) | set(failed))
    if len(names) > 1:
        line += " (" + ", ".join(f"{name}: {passed[name]}" for name in names) + ")"
    terminalreporter.write_sep("-", "authorization matrix")
    terminalreporter.write_line(line)
