"""Demo alerts, a joint operation and situation reports, written through the real services.

Like the demo incidents, each step has a fixed ``client_msg_id`` and is skipped
when its receipt exists, so ``seed_demo`` converges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from hub.accounts.models import User
from hub.alerts import services as alerts
from hub.events.models import WriteReceipt
from hub.incidents.demo import demo_id
from hub.operations import services as ops
from hub.operations.models import Operation, Task
from hub.sitreps import services as sitreps

Context = dict[str, str]


@dataclass(frozen=True)
class Step:
    name: str
    username: str
    run: Callable[[User, Context], str | None]


def _operation(ctx: Context, key: str) -> Operation:
    return Operation.objects.get(pk=int(ctx[key]))


def _task(ctx: Context, key: str, position: int) -> int:
    return Task.objects.get(operation=_operation(ctx, key), position=position).pk


# The demo incident each crossing point's activity is about: the one its demo step
# reported (not the point's first incident: seed_demo writes weeks of history first).
DEMO_INCIDENT_STEP = {"WDH": "tip"}


def _incident_ref(crossing_point: str) -> str:
    receipt = WriteReceipt.objects.get(client_msg_id=demo_id(DEMO_INCIDENT_STEP[crossing_point]))
    return receipt.stream.split(":", 1)[1]


STEPS: tuple[Step, ...] = (
    Step(
        "alert-visas",
        "na-imm.coord",
        lambda u, c: str(
            alerts.alert_issue(
                actor=u,
                crossing_point="WDH",
                category="document_fraud",
                severity="high",
                title="Counterfeit visas on connecting flights from the north",
                body="Three counterfeit visa foils found this week; all on passengers connecting via "
                "the same hub. Second-line check every visa on these arrivals.",
                expires_at=timezone.now() + timedelta(days=7),
                client_msg_id=demo_id("alert-visas"),
            ).alert.pk
        ),
    ),
    Step(
        "alert-visas-ack",
        "na-pol.duty",
        lambda u, c: (
            alerts.alert_acknowledge(
                actor=u, alert_id=int(c["alert-visas"]), client_msg_id=demo_id("alert-visas-ack")
            ),
            None,
        )[1],
    ),
    Step(
        "alert-drill",
        "za-cgd.coord",
        lambda u, c: str(
            alerts.alert_issue(
                actor=u,
                crossing_point="DUR",
                category="vessel_of_interest",
                severity="critical",
                title="Vessel of interest approaching outer anchorage",
                body="Drill: a bulk carrier reported with stowaways. All agencies run the vessel "
                "interdiction checklist.",
                is_exercise=True,
                expires_at=timezone.now() + timedelta(hours=12),
                client_msg_id=demo_id("alert-drill"),
            ).alert.pk
        ),
    ),
    Step(
        "alert-osbp",
        "zm-imm.coord",
        lambda u, c: str(
            alerts.alert_issue(
                actor=u,
                crossing_point="WEN",
                category="trafficking_risk",
                severity="medium",
                title="Recruiters offering 'hotel jobs' to young women crossing to Namibia",
                body="Community reports of recruiters on the Zambian side. Watch for groups of young "
                "women with identical job letters.",
                client_msg_id=demo_id("alert-osbp"),
            ).alert.pk
        ),
    ),
    Step(
        "op-tip",
        "na-imm.coord",
        lambda u, c: str(
            ops.operation_start(
                actor=u,
                crossing_point="WDH",
                template="tip-screening",
                incident=_incident_ref("WDH"),
                client_msg_id=demo_id("op-tip"),
            ).operation.pk
        ),
    ),
    Step(
        "op-tip-1",
        "na-imm.duty",
        lambda u, c: (
            ops.task_update(
                actor=u,
                ref=_operation(c, "op-tip").ref,
                task_id=_task(c, "op-tip", 1),
                status="in_progress",
                client_msg_id=demo_id("op-tip-1"),
            ),
            None,
        )[1],
    ),
    Step(
        "op-tip-2",
        "na-imm.duty",
        lambda u, c: (
            ops.task_update(
                actor=u,
                ref=_operation(c, "op-tip").ref,
                task_id=_task(c, "op-tip", 1),
                status="done",
                client_msg_id=demo_id("op-tip-2"),
            ),
            None,
        )[1],
    ),
    Step(
        "op-tip-3",
        "na-imm.duty",
        lambda u, c: (
            ops.task_update(
                actor=u,
                ref=_operation(c, "op-tip").ref,
                task_id=_task(c, "op-tip", 2),
                status="in_progress",
                note="Indicators: documents held by escort; claims debt for travel; avoids eye contact.",
                client_msg_id=demo_id("op-tip-3"),
            ),
            None,
        )[1],
    ),
    Step(
        "op-tip-4",
        "na-pol.duty",
        lambda u, c: (
            ops.task_update(
                actor=u,
                ref=_operation(c, "op-tip").ref,
                task_id=_task(c, "op-tip", 4),
                status="in_progress",
                client_msg_id=demo_id("op-tip-4"),
            ),
            None,
        )[1],
    ),
    Step(
        "sitrep-tip-cadence",
        "na-imm.coord",
        lambda u, c: str(
            sitreps.sitrep_cadence_set(
                actor=u,
                kind="incident",
                ref=_incident_ref("WDH"),
                every_minutes=60,
                client_msg_id=demo_id("sitrep-tip-cadence"),
            ).subject.pk
        ),
    ),
    Step(
        "sitrep-tip-1",
        "na-imm.coord",
        lambda u, c: str(
            sitreps.sitrep_post(
                actor=u,
                kind="incident",
                ref=_incident_ref("WDH"),
                situation="Three passengers held at secondary; the escort is detained. Two of "
                "the three are minors by their own account.",
                actions_taken="Separated from the escort; screened with the TIP checklist; "
                "documents secured.",
                next_steps="Interviews with a Portuguese interpreter; referral to protection.",
                needs=[
                    {"agency": "NA-POL", "need": "Anti-trafficking unit to interview the escort"},
                    {"agency": None, "need": "A Portuguese interpreter at the airport"},
                ],
                client_msg_id=demo_id("sitrep-tip-1"),
            ).report.pk
        ),
    ),
    Step(
        "sitrep-op-cadence",
        "na-imm.coord",
        lambda u, c: str(
            sitreps.sitrep_cadence_set(
                actor=u,
                kind="operation",
                ref=_operation(c, "op-tip").ref,
                every_minutes=30,
                client_msg_id=demo_id("sitrep-op-cadence"),
            ).subject.pk
        ),
    ),
)


def seed_activity() -> Context:
    """Run every step that has not run yet; returns step name -> object id."""
    ctx: Context = {}
    for step in STEPS:
        actor = User.objects.get(username=step.username)
        receipt = WriteReceipt.objects.filter(actor=actor, client_msg_id=demo_id(step.name)).first()
        if receipt is not None:
            ctx[step.name] = receipt.object_id
            continue
        result = step.run(actor, ctx)
        if result is not None:
            ctx[step.name] = result
    return ctx
