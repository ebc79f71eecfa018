"""Schemathesis against the hub's OpenAPI: the setup that the suite's bounded run
(tests/integration/test_api_fuzz.py) and the longer one (``python -m bench.fuzz_api``,
for ``make soak``) share.

What one run does, for each of three demo officers (a duty officer, a coordinator
and a senior official of Namibian immigration, each signed in with a bearer token
from ``POST /api/v1/auth/token``) and each operation of ``/api/v1/openapi.json``:
schemathesis generates requests in its coverage phase (boundary and just-invalid
values of every parameter, deterministic) and its fuzzing phase (``max_examples``
positive and negative cases, derandomized, so a run is decided by the code, not by
the draw), sends them, and runs every check schemathesis has (``CHECKS``) on every
response. Requests go either in process to Django's WSGI handler (the suite: fast and
hermetic, on the test database) or over HTTP to a running server (the soak run).

Path parameters are drawn from the demo data half of the time (``KnownValues``): a
random ``ref`` only ever finds 404, so without real refs, codes and ids the bodies
of writes would never reach a service.

Invariants: the officers' tokens stay valid for the whole run. ``POST
/auth/token/revoke`` is sent with a token issued for that one request (it revokes
the token it is called with), so it is fuzzed like every other operation. The
sign-in throttle (``HUB_LOGIN_RATE``) must be raised by the caller for the run:
schemathesis signs in far more often than 20 times a minute, and a 429 then would
depend on the clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.schemas import OpenApiSchema

SCHEMA_PATH = "/api/v1/openapi.json"
OFFICERS = {
    "duty officer": "na-imm.duty",
    "coordinator": "na-imm.coord",
    "senior official": "na-imm.senior",
}
REVOKE_OPERATION = "POST /api/v1/auth/token/revoke"


def all_checks() -> list[Any]:
    """Every check schemathesis registers (``--checks all``): response checks such as
    ``not_a_server_error``, ``status_code_conformance``, ``content_type_conformance``,
    ``response_headers_conformance``, ``response_schema_conformance``,
    ``negative_data_rejection``, ``positive_data_acceptance``, ``missing_required_header``,
    ``unsupported_method``, ``ignored_auth`` and the stateful ones."""
    load_all_checks()
    return list(CHECKS.get_all())


def check_names() -> list[str]:
    return [getattr(check, "__name__", type(check).__name__) for check in all_checks()]


@dataclass(frozen=True)
class Finding:
    """One distinct failure: the check, the operation, the officer and the message."""

    check: str
    operation: str
    role: str
    title: str
    message: str
    status: int
    curl: str

    def line(self) -> str:
        return f"[{self.check}] {self.operation} as {self.role}: {self.title} (HTTP {self.status})"


@dataclass
class FuzzReport:
    operations: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures_by_check: Counter[str] = field(default_factory=Counter)
    findings: dict[tuple[str, str, str, str], Finding] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def record(self, finding: Finding) -> None:
        self.failures_by_check[finding.check] += 1
        key = (finding.check, finding.operation, finding.role, finding.title)
        self.findings.setdefault(key, finding)

    def details(self) -> str:
        """Each distinct finding with schemathesis's message and a curl to reproduce it."""
        return "\n\n".join(f"{f.line()}\n{f.message}\n{f.curl}" for f in self.findings.values())

    def summary(self) -> str:
        lines = [
            f"operations: {self.operations}",
            f"requests: {self.requests}",
            "statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())),
            f"failures: {sum(self.failures_by_check.values())}",
        ]
        for name in check_names():
            lines.append(f"  {name}: {self.failures_by_check.get(name, 0)}")
        if self.errors:
            lines.append(f"errors: {len(self.errors)}")
            lines.extend(f"  {e}" for e in self.errors)
        for finding in self.findings.values():
            lines.append("finding: " + finding.line())
        return "\n".join(lines)


@dataclass
class Target:
    """Where requests go: ``app`` (a WSGI application, in process) or ``base_url``."""

    app: Any = None
    base_url: str | None = None

    def load_schema(self) -> OpenApiSchema:
        """The served OpenAPI document, with the checks configured from it
        (``schemathesis_config``)."""
        raw = self.get_json(SCHEMA_PATH, None)
        schema = schemathesis.openapi.from_dict(raw, config=schemathesis_config(raw))
        if self.app is not None:
            schema.app = self.app
        else:
            schema.config.base_url = self.base_url
        return schema

    def get_json(self, path: str, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if self.app is not None:
            from werkzeug.test import Client

            response = Client(self.app).get(path, headers=headers)
            status, body = response.status_code, response.get_json(silent=True)
        else:
            import requests

            answer = requests.get(self.base_url + path, headers=headers, timeout=30)  # type: ignore[operator]
            status, body = answer.status_code, answer.json()
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status} {body}")
        return body

    def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if self.app is not None:
            from werkzeug.test import Client

            response = Client(self.app).post(path, json=body)
            return response.status_code, response.get_json(silent=True)
        import requests

        answer = requests.post(self.base_url + path, json=body, timeout=30)  # type: ignore[operator]
        return answer.status_code, answer.json() if answer.content else None


def seed_world() -> None:
    """The demo region, its SOP checklists, incidents, alerts and a joint operation
    (what ``manage.py seed_demo`` writes, without the weeks of history and the
    evidence pictures): something for every path parameter to name."""
    from hub.agencies.demo import seed_reference_data
    from hub.demo.activity import seed_activity
    from hub.incidents.demo import seed_incidents
    from hub.operations.sops import load_sops

    seed_reference_data()
    load_sops()
    seed_incidents()
    seed_activity()


def refusing_valid_requests(raw_schema: dict[str, Any]) -> dict[str, list[str]]:
    """By operation label, the statuses documented as also answering some schema-valid
    requests (``hub.schemas.refuses_valid``: rules JSON Schema cannot state, named in
    that response's description)."""
    from hub.schemas import REFUSES_VALID

    found: dict[str, list[str]] = {}
    for path, item in raw_schema["paths"].items():
        for method, operation in item.items():
            statuses = [
                str(status)
                for status, response in operation.get("responses", {}).items()
                if response.get("description", "").startswith(REFUSES_VALID)
            ]
            if statuses:
                found[f"{method.upper()} {path}"] = sorted(statuses)
    return found


def schemathesis_config(raw_schema: dict[str, Any]) -> schemathesis.Config:
    """``positive_data_acceptance`` expects those statuses as well on the operations that
    document them for schema-valid requests (and only there); every other check as
    schemathesis has it."""
    # schemathesis keeps its default list private; extend it rather than restate it.
    from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES

    return schemathesis.Config.from_dict(
        {
            "operations": [
                {
                    "include-name": label,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [
                                *POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
                                *statuses,
                            ]
                        }
                    },
                }
                for label, statuses in refusing_valid_requests(raw_schema).items()
            ]
        }
    )


def issue_token(target: Target, username: str, *, name: str = "fuzz") -> str:
    """A bearer token for the demo officer ``username``, from ``POST /auth/token``."""
    from hub.agencies.demo import DEMO_PASSWORD

    status, body = target.post_json(
        "/api/v1/auth/token", {"username": username, "password": DEMO_PASSWORD, "name": name}
    )
    if status != 201:
        raise RuntimeError(f"token for {username}: HTTP {status} {body}")
    return str(body["token"])


def known_path_values(target: Target, token: str) -> dict[str, dict[str, str]]:
    """Real path parameters an officer may use, by the path prefix they belong to
    (``/incidents/{ref}`` takes an incident's ref, ``/operations/{ref}`` an
    operation's), read through the API as that officer."""
    api = "/api/v1"
    incident = target.get_json(f"{api}/incidents?limit=1", token)["items"][0]
    ref = incident["ref"]
    known: dict[str, dict[str, str]] = {
        "/incidents/{ref}": {"ref": ref},
        "/streams/{stream}": {"stream": incident["stream"]},
    }
    messages = target.get_json(f"{api}/incidents/{ref}/messages", token)["items"]
    if messages:
        known["/messages/{message_id}"] = {"message_id": str(messages[-1]["id"])}
    files = target.get_json(f"{api}/incidents/{ref}/attachments", token)["items"]
    if files:
        known["/attachments/{attachment_id}"] = {"attachment_id": str(files[0]["id"])}
    code = incident["crossing_point"]
    known["/crossing-points/{code}"] = {"code": code}
    alerts = target.get_json(f"{api}/crossing-points/{code}/alerts", token)
    if alerts:
        known["/alerts/{alert_id}"] = {"alert_id": str(alerts[0]["id"])}
    operations = target.get_json(f"{api}/operations", token)
    if operations:
        operation = target.get_json(f"{api}/operations/{operations[0]['ref']}", token)
        known["/operations/{ref}"] = {"ref": operation["ref"]}
        if operation["tasks"]:
            known["/tasks/{task_id}"] = {"task_id": str(operation["tasks"][-1]["id"])}
    templates = target.get_json(f"{api}/checklist-templates", token)
    if templates:
        known["/checklist-templates/{code}"] = {"code": templates[0]["code"]}
    return known


def path_override(path: str, known: dict[str, dict[str, str]]) -> dict[str, str] | None:
    """The known values for every path parameter of ``path``; None when it has none, or
    when one of them has no known value."""
    values: dict[str, str] = {}
    for prefix, entry in known.items():
        if prefix in path:
            values.update(entry)
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    if not names or any(name not in values for name in names):
        return None
    return {name: values[name] for name in names}


def hypothesis_settings(max_examples: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        verbosity=hypothesis.Verbosity.quiet,
        print_blob=False,
    )


def _failure_check_name(failure: Failure) -> str:
    names = type(failure).checks
    return names[0] if len(names) == 1 else type(failure).__name__


def _case_runner(
    target: Target,
    report: FuzzReport,
    checks: list[Any],
    role: str,
    username: str,
    token: str,
    pinned: bool,
) -> Callable[[Any], None]:
    """The body of one operation's Hypothesis test: send ``case`` as the officer, run
    every check, and record each failure (never raising, so one run finds them all)."""

    def run_case(case: Any) -> None:
        if pinned and case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH):
            # The pinned (real) path parameters replaced the invalid ones it was made with.
            return
        sent_token = (
            issue_token(target, username, name="fuzz-revoke")
            if case.operation.label == REVOKE_OPERATION
            else token
        )
        headers = {"Authorization": f"Bearer {sent_token}"}
        kwargs: dict[str, Any] = {"headers": headers}
        if target.base_url is not None:
            kwargs["base_url"] = target.base_url
        response = case.call(**kwargs)
        report.requests += 1
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(
                response, checks=checks, headers=headers, transport_kwargs=kwargs
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                report.record(
                    Finding(
                        check=_failure_check_name(failure),
                        operation=case.operation.label,
                        role=role,
                        title=failure.title,
                        message=f"{failure.message}\nanswer: {response.content[:300]!r}",
                        status=response.status_code,
                        curl=case.as_curl_command(headers=headers),
                    )
                )

    return run_case


def fuzz(
    target: Target,
    *,
    max_examples: int,
    roles: dict[str, str] | None = None,
    coverage_roles: set[str] | None = None,
    include: Callable[[str], bool] | None = None,
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Run every check on every operation as each officer; return the counts and the
    distinct findings (the run never stops at the first failure).

    Each operation runs once with generated path parameters and once with the demo
    data's (``known_path_values``). ``max_examples`` bounds the fuzzing phase per run;
    schemathesis's coverage phase (its deterministic boundary and just-invalid cases,
    about 45 per operation, and the unsupported-method probes) runs for the officers
    in ``coverage_roles`` (default: all three)."""
    schema = target.load_schema()
    checks = all_checks()
    report = FuzzReport()
    roles = roles or OFFICERS
    tokens = {role: issue_token(target, username) for role, username in roles.items()}
    known = {role: known_path_values(target, token) for role, token in tokens.items()}
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            operations.append(result.ok())
        else:  # an operation schemathesis cannot read is a finding of its own
            report.errors.append(f"schema: {result.err()}"[:500])
    for role, username in roles.items():
        for operation in operations:
            label = operation.label
            if include is not None and not include(label):
                continue
            report.operations += 1
            if progress:
                progress(f"{role}: {label}")

            modes = [HypothesisTestMode.FUZZING]
            if coverage_roles is None or role in coverage_roles:
                modes.insert(0, HypothesisTestMode.COVERAGE)
            overrides = [Override()]
            pinned = path_override(operation.path, known[role])
            if pinned is not None:
                overrides.append(Override(path_parameters=pinned))
            for override in overrides:
                run_case = _case_runner(
                    target,
                    report,
                    checks,
                    role,
                    username,
                    tokens[role],
                    pinned=bool(override.path_parameters),
                )
                test = create_test(
                    operation=operation,
                    test_func=run_case,
                    config=HypothesisTestConfig(
                        project=schema.config,
                        modes=modes,
                        settings=hypothesis_settings(max_examples),
                        apply_ci_profile=False,
                        override=override,
                    ),
                )
                try:
                    test()
                except Exception as exc:  # a generation error is a finding of its own
                    report.errors.append(f"{role}: {label}: {type(exc).__name__}: {exc}"[:500])
    return report
