"""The standard operating procedures the hub ships with, written as a committee would.

``load_sops`` (``manage.py load_sops``, run on every deploy, and ``seed_demo``)
publishes each one as version 1, or as a new version when its content here
changed, through ``template_publish``; running it again changes nothing, and
operations already running keep the version they started from.

Administrators may also write versions in the browser (``template_create`` and
``template_revise``). Once a template has a version written there, the browser
owns it: ``load_sops`` leaves it alone, whatever the text here says, and says so.
Each version, from code or browser, is a ``template.published`` event on
``template:<CODE>``; ``load_sops`` also records there any version published
before template streams existed.

Each checklist lists its items in the order they fall due: ``due_offset_minutes``
never decreases down a list (a test holds every SOP to this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from hub.events.pipeline import lock_streams
from hub.operations.models import ChecklistTemplate, TemplateSource, template_stream_name
from hub.operations.services import (
    MAX_TEXT,
    ItemSpec,
    template_publish,
    template_record_unrecorded,
)
from hub.text import clean_text


@dataclass(frozen=True)
class Sop:
    code: str
    title: str
    description: str
    items: tuple[ItemSpec, ...]


SOPS = (
    Sop(
        "tip-screening",
        "Identification, screening and referral of a suspected victim of trafficking",
        "For any traveller showing indicators of trafficking in persons. The person is treated "
        "as a possible victim, never as an offender, until screening says otherwise.",
        (
            ItemSpec(
                "Separate the person from any escort and move them to a private room",
                "immigration",
                15,
                "Do not confront the escort. Offer water and a same-gender officer where possible.",
            ),
            ItemSpec(
                "Screening interview with the indicators checklist, with an interpreter",
                "immigration",
                60,
                "Record which indicators were observed (control of documents, debt, deception, "
                "restricted movement, signs of abuse). Use open questions.",
                requires_note=True,
            ),
            ItemSpec(
                "Examine travel documents and check SLTD and national watchlists",
                "immigration",
                60,
                "Record document numbers and any hits.",
                requires_note=True,
            ),
            ItemSpec(
                "Notify the police anti-trafficking / child protection unit",
                "police",
                75,
                "As soon as screening confirms indicators. For a minor, notify child protection "
                "immediately, without waiting for the screening.",
            ),
            ItemSpec(
                "Secure evidence from the escort: phones, tickets, documents",
                "police",
                90,
                "Seal and label each item; chain of custody is co-signed by a second agency.",
                requires_note=True,
                requires_cosign=True,
            ),
            ItemSpec(
                "Search baggage and any consignment linked to the case",
                "customs",
                90,
                "Note anything pointing to recruiters or exploiters.",
            ),
            ItemSpec(
                "Refer the person to protection services (shelter, medical, psychosocial)",
                "immigration",
                120,
                "Record the receiving organisation and its reference number. Co-signed by police.",
                requires_note=True,
                requires_cosign=True,
            ),
            ItemSpec(
                "Joint incident report to the coordination committee",
                "police",
                240,
                "Summarise indicators, actions and referrals.",
                requires_note=True,
            ),
        ),
    ),
    Sop(
        "vessel-interdiction",
        "Vessel interdiction at a seaport",
        "A vessel suspected of carrying undeclared persons or goods is stopped, boarded and "
        "examined jointly by coastguard, port authority, customs, immigration and port health.",
        (
            ItemSpec(
                "Establish the vessel's position, IMO/MMSI, flag and last port of call",
                "coastguard",
                15,
                requires_note=True,
            ),
            ItemSpec(
                "Direct the vessel to anchorage or to the berth the port authority assigns",
                "port_authority",
                45,
            ),
            ItemSpec(
                "Board the vessel and carry out a safety sweep",
                "coastguard",
                60,
                "Record crew count and any immediate risks.",
                requires_note=True,
            ),
            ItemSpec(
                "Check the crew and passenger manifest against persons aboard",
                "immigration",
                90,
                "Co-signed by the boarding coastguard officer.",
                requires_note=True,
                requires_cosign=True,
            ),
            ItemSpec("Port health inspection and maritime declaration of health", "health", 90),
            ItemSpec(
                "Search cargo and holds; seal containers under suspicion",
                "customs",
                180,
                "Seal numbers in the note; co-signed by a second agency.",
                requires_note=True,
                requires_cosign=True,
            ),
            ItemSpec(
                "Interview undocumented persons; refer protection cases",
                "immigration",
                240,
                requires_note=True,
            ),
            ItemSpec(
                "Decide on detention or release of the vessel, with the legal basis",
                "coastguard",
                480,
                requires_note=True,
                requires_cosign=True,
            ),
        ),
    ),
    Sop(
        "document-fraud-check",
        "Document fraud check with the registration authority",
        "A travel or identity document suspected to be altered, counterfeit or fraudulently "
        "obtained is examined at the second line and confirmed with the issuing authority.",
        (
            ItemSpec(
                "Second-line examination: UV, microprint, laminate, data page",
                "immigration",
                20,
                "Describe the anomalies found.",
                requires_note=True,
            ),
            ItemSpec(
                "Compare the holder with the document's photograph and biometrics",
                "immigration",
                30,
            ),
            ItemSpec("Check SLTD and national databases", "police", 45, requires_note=True),
            ItemSpec(
                "Ask the issuing / civil registration authority to confirm issuance",
                "other",
                120,
                "Record the authority's reply and reference.",
                requires_note=True,
            ),
            ItemSpec(
                "Decide: admit, refuse entry or arrest; record the legal basis",
                "immigration",
                180,
                "Co-signed by police.",
                requires_note=True,
                requires_cosign=True,
            ),
            ItemSpec(
                "Seize the document as evidence and issue a receipt",
                "police",
                240,
                requires_note=True,
            ),
        ),
    ),
    Sop(
        "mass-arrival-land",
        "Mass or irregular arrival at a land crossing",
        "A group arrives outside the controlled lanes or in numbers beyond normal capacity. "
        "At a One Stop Border Post, both countries' agencies act together.",
        (
            ItemSpec("Secure the area and set up a safe reception point", "police", 30),
            ItemSpec(
                "Count arrivals; identify children, injured, elderly and other vulnerable people",
                "immigration",
                60,
                requires_note=True,
            ),
            ItemSpec(
                "Inform the counterpart agencies of the neighbouring country",
                "immigration",
                60,
                "Co-signed by the neighbouring country's officer.",
                requires_cosign=True,
            ),
            ItemSpec("Health screening and first aid", "health", 90),
            ItemSpec(
                "Register arrivals and capture biometrics", "immigration", 240, requires_note=True
            ),
            ItemSpec("Search belongings", "customs", 240),
            ItemSpec(
                "Refer asylum seekers and protection cases", "immigration", 480, requires_note=True
            ),
        ),
    ),
)


def _cleaned(sop: Sop) -> tuple[Any, ...]:
    """The SOP as ``template_publish`` stores it (text cleaned the same way)."""

    def clean(value: str, *, required: bool = True) -> str:
        return clean_text(value, field="sop", max_length=MAX_TEXT, required=required)

    return (
        clean(sop.title),
        clean(sop.description, required=False),
        tuple(
            (
                clean(item.title),
                clean(item.guidance, required=False),
                item.agency_kind,
                item.due_offset_minutes,
                item.requires_note,
                item.requires_cosign,
            )
            for item in sop.items
        ),
    )


def _stored(template: ChecklistTemplate) -> tuple[Any, ...]:
    return (
        template.title,
        template.description,
        tuple(
            (
                i.title,
                i.guidance,
                i.agency_kind,
                i.due_offset_minutes,
                i.requires_note,
                i.requires_cosign,
            )
            for i in template.items.order_by("position")
        ),
    )


@dataclass(frozen=True)
class SopLoaded:
    template: ChecklistTemplate  # the current version after loading
    published: bool  # a new version was published (first load, or the text here changed)
    # Left alone: a version of it was written in the browser, which load_sops never
    # overwrites; ``differs`` says whether the SOP here differs from that version.
    browser: bool = False
    differs: bool = False
    recorded: int = 0  # earlier versions recorded on its stream now (see the module doc)


def _load_one(sop: Sop) -> SopLoaded:
    with transaction.atomic():
        # Lock the template's stream, as every publisher does, so two loaders (two
        # deploys at once), or a loader and an administrator, publish one after the
        # other and the second compares with what the first wrote.
        lock_streams([template_stream_name(sop.code)])
        recorded = template_record_unrecorded(code=sop.code)
        current = ChecklistTemplate.objects.filter(code=sop.code, is_current=True).first()
        if current is not None:
            same = _stored(current) == _cleaned(sop)
            if ChecklistTemplate.objects.filter(
                code=sop.code, source=TemplateSource.BROWSER
            ).exists():
                return SopLoaded(
                    current, published=False, browser=True, differs=not same, recorded=recorded
                )
            if same:
                return SopLoaded(current, published=False, recorded=recorded)
        template = template_publish(
            code=sop.code, title=sop.title, description=sop.description, items=list(sop.items)
        )
        return SopLoaded(template, published=True, recorded=recorded)


def load_sops() -> list[SopLoaded]:
    """Install or update the standard SOPs; safe to run on every deploy.

    A SOP whose current version has the same content is left alone; a changed
    one is published as a new version (``template_publish``), so operations
    already running keep the version they started from. A template with a version
    written in the browser is left alone whatever its content. Never deletes anything.
    """
    loaded: list[SopLoaded] = []
    for sop in SOPS:
        try:
            loaded.append(_load_one(sop))
        except IntegrityError:
            # Another loader published the first version of this SOP at the same
            # moment (nothing to lock yet): compare again with what it wrote.
            loaded.append(_load_one(sop))
    return loaded


def seed_templates() -> list[ChecklistTemplate]:
    """The current version of every standard SOP (loading them first)."""
    return [entry.template for entry in load_sops()]
