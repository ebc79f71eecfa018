"""Demo incidents, written through the real services.

Each step has a fixed ``client_msg_id`` (a UUID5 of its name). A step whose
receipt already exists is skipped, so ``seed_demo`` converges: running it twice
leaves the same rows and the same events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from hub.accounts.models import User
from hub.events.models import WriteReceipt
from hub.incidents import services

NAMESPACE = uuid.UUID("6c1b1f0e-3d5a-4f1e-9a7d-2b8f0c4e5a61")


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


@dataclass(frozen=True)
class Step:
    name: str
    username: str
    run: Callable[[User, uuid.UUID, dict[str, str]], str | None]


def _report(crossing_point: str, minutes_ago: int, **fields: Any) -> Callable[..., str | None]:
    def run(actor: User, cmid: uuid.UUID, refs: dict[str, str]) -> str | None:
        result = services.incident_report(
            actor=actor,
            crossing_point=crossing_point,
            occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
            client_msg_id=cmid,
            **fields,
        )
        return result.incident.ref

    return run


def _post(key: str, body: str) -> Callable[..., str | None]:
    def run(actor: User, cmid: uuid.UUID, refs: dict[str, str]) -> str | None:
        services.message_post(actor=actor, ref=refs[key], body=body, client_msg_id=cmid)
        return None

    return run


def _invite(key: str, agency: str, note: str = "") -> Callable[..., str | None]:
    def run(actor: User, cmid: uuid.UUID, refs: dict[str, str]) -> str | None:
        services.incident_invite_agency(
            actor=actor, ref=refs[key], agency=agency, note=note, client_msg_id=cmid
        )
        return None

    return run


def _transition(key: str, to: str, reason: str = "") -> Callable[..., str | None]:
    def run(actor: User, cmid: uuid.UUID, refs: dict[str, str]) -> str | None:
        services.incident_transition(
            actor=actor, ref=refs[key], to_status=to, reason=reason, client_msg_id=cmid
        )
        return None

    return run


def _lead(key: str, agency: str) -> Callable[..., str | None]:
    def run(actor: User, cmid: uuid.UUID, refs: dict[str, str]) -> str | None:
        services.incident_set_lead(actor=actor, ref=refs[key], agency=agency, client_msg_id=cmid)
        return None

    return run


STEPS: tuple[Step, ...] = (
    # Hosea Kutako airport: screening and referral of a suspected trafficking victim.
    Step(
        "tip",
        "na-imm.duty",
        _report(
            "WDH",
            95,
            title="Minor travelling with adult whose documents do not match",
            category="trafficking_in_persons",
            severity="high",
            people_count=2,
            description=(
                "Girl (about 15) arriving with an adult man presenting as her uncle. Names on the "
                "birth certificate and consent letter differ. Child avoids eye contact and says "
                "she is going to 'work for a family'. Both held at secondary screening."
            ),
            location_detail="Arrivals, secondary screening room 2",
        ),
    ),
    Step(
        "tip-1",
        "na-imm.duty",
        _post(
            "tip", "Separated the child from the adult. Female officer and interpreter requested."
        ),
    ),
    Step("tip-2", "na-imm.coord", _transition("tip", "triaged")),
    Step(
        "tip-3",
        "na-imm.coord",
        _invite("tip", "NA-POL", "Possible trafficking; need the gender and child protection desk"),
    ),
    Step(
        "tip-4",
        "na-pol.duty",
        _post("tip", "GCPU officer on the way, ETA 20 minutes. Keep the adult's phone."),
    ),
    Step("tip-5", "na-imm.coord", _transition("tip", "active")),
    # Wenela–Sesheke OSBP: an irregular crossing at a post shared by two countries.
    Step(
        "osbp",
        "zm-imm.duty",
        _report(
            "WEN",
            240,
            title="Group crossing on foot east of the post at night",
            category="irregular_crossing",
            severity="medium",
            people_count=14,
            description=(
                "Patrol saw a group of about 14 adults cross the floodplain 2 km east of the post."
            ),
            location_detail="Floodplain, 2 km east of the joint control zone",
            visibility="crossing_point",
        ),
    ),
    Step("osbp-1", "zm-imm.coord", _invite("osbp", "NA-POL", "Namibian side patrol")),
    Step("osbp-2", "zm-imm.coord", _invite("osbp", "NA-IMM")),
    Step(
        "osbp-3",
        "na-pol.duty",
        _post("osbp", "Patrol found fresh tracks heading to the Katima road. Following."),
    ),
    # Port of Walvis Bay: vessel interdiction.
    Step(
        "vessel",
        "na-cgd.duty",
        _report(
            "WVB",
            600,
            title="Fishing vessel with undeclared crew members",
            category="vessel_interdiction",
            severity="high",
            people_count=11,
            description="Trawler boarded at anchorage B; crew list shows 19, 30 aboard.",
            location_detail="Outer anchorage B",
        ),
    ),
    Step("vessel-1", "na-cgd.coord", _invite("vessel", "NA-IMM", "Crew screening")),
    Step("vessel-2", "na-cgd.coord", _invite("vessel", "NA-CUS", "Hold search")),
    Step("vessel-3", "na-cgd.coord", _transition("vessel", "active")),
    Step(
        "vessel-4",
        "na-cus.duty",
        _post("vessel", "Hold search complete: nothing undeclared in cargo."),
    ),
    Step(
        "vessel-5",
        "na-imm.duty",
        _post("vessel", "11 crew without seaman's books; interviews started."),
    ),
    # O. R. Tambo airport: document fraud, resolved.
    Step(
        "doc",
        "za-imm.duty",
        _report(
            "JNB",
            1440,
            title="Altered passport detected at primary line",
            category="document_fraud",
            severity="medium",
            people_count=1,
            description="Biodata page laminate lifted; photo substitution suspected.",
            location_detail="Terminal A, primary line 7",
        ),
    ),
    Step("doc-1", "za-imm.coord", _invite("doc", "ZA-POL")),
    Step("doc-2", "za-imm.coord", _lead("doc", "ZA-POL")),
    Step("doc-3", "za-imm.coord", _transition("doc", "active")),
    Step(
        "doc-4",
        "za-pol.coord",
        _transition("doc", "resolved", "Passenger charged; document seized as evidence."),
    ),
    # Port of Durban: migrant smuggling.
    Step(
        "stow",
        "za-prt.duty",
        _report(
            "DUR",
            180,
            title="Stowaways found in a container at the terminal",
            category="migrant_smuggling",
            severity="critical",
            people_count=4,
            description=(
                "Four men found in a reefer container during scanning; one needs medical care."
            ),
            location_detail="Container terminal, stack 14",
        ),
    ),
    Step("stow-1", "za-prt.coord", _invite("stow", "ZA-IMM")),
    Step("stow-2", "za-prt.coord", _invite("stow", "ZA-HLT", "One person dehydrated")),
    Step(
        "stow-3", "za-hlt.duty", _post("stow", "Paramedics on site. One to hospital, three stable.")
    ),
)


def seed_incidents() -> dict[str, str]:
    """Run every step that has not run yet; returns step key -> incident ref."""
    refs: dict[str, str] = {}
    for step in STEPS:
        actor = User.objects.get(username=step.username)
        cmid = demo_id(step.name)
        receipt = WriteReceipt.objects.filter(actor=actor, client_msg_id=cmid).first()
        if receipt is not None:
            if "-" not in step.name:
                refs[step.name] = receipt.stream.split(":", 1)[1]
            continue
        ref = step.run(actor, cmid, refs)
        if ref is not None:
            refs[step.name] = ref
    return refs
