"""Several weeks of demo history at every crossing point, written through the real services.

``seed_demo`` runs this before the current demo activity, so that senior
officials' review, search and response metrics have something real to show:
incidents with their whole lifecycle (report, triage, lead, invitations, first
responses minutes to hours later, resolution, closure; a few still open),
alerts acknowledged at realistic delays (most in their window, some late and
escalated, a couple never), joint operations from the SOPs (tasks on time, late,
and a few still overdue), situation reports on a cadence (one late, reminded),
edited messages, one redaction, and one passport number that turns up at two
crossing points.

How: a plan of steps is built first, deterministically (``random.Random(2026)``),
each at its own offset into the ~5 weeks before the anchor (the seeding time).
The steps are sorted by time and each runs under ``demo_clock`` at its instant,
so every stream's events are in time order and the hash chains and seqs are the
real ones. Each write has a fixed ``client_msg_id`` (``demo_id("history-…")``)
and is skipped when its receipt exists; the escalation, expiry and reminder
claims are idempotent by themselves. A re-run keeps the first run's anchor (read
back from the first step's event), so a run interrupted half way resumes on the
same clock.

History is written only on a fresh demo database: if the current demo activity
exists without history, adding weeks of past events after it would put streams
out of time order, so it is left out (``HistorySummary.skipped``).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.test import override_settings
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.demo import CROSSING_POINTS
from hub.alerts import services as alerts
from hub.alerts.models import AlertTarget
from hub.demo.clock import demo_clock
from hub.events.models import Event, WriteReceipt
from hub.incidents import services as incidents
from hub.incidents.demo import demo_id
from hub.operations import services as ops
from hub.operations.models import Task
from hub.operations.sops import SOPS
from hub.sitreps import services as sitreps
from hub.sitreps.models import SitrepSubject

SEED = 2026
SPAN = timedelta(days=35)  # the history covers the five weeks before the anchor
QUIET = timedelta(hours=3)  # and ends this long before it
SHARED_DOCUMENT = "N2719354"  # a passport refused at WDH turns up on a crew list at WVB
INCIDENTS_PER_POINT = 7

DEPLOYED = {p.code: set(p.agencies) for p in CROSSING_POINTS}
COUNTRY = {"WDH": "NA", "WEN": "NA", "WVB": "NA", "JNB": "ZA", "BBR": "ZA", "DUR": "ZA"}
KIND = {p.code: str(p.kind) for p in CROSSING_POINTS}


def agency(point: str, key: str) -> str | None:
    """An agency key of the templates (imm, pol, zimm, …) as the code deployed at ``point``."""
    code = {"zimm": "ZM-IMM", "zcus": "ZM-CUS"}.get(key, f"{COUNTRY[point]}-{key.upper()}")
    return code if code in DEPLOYED[point] else None


def duty(code: str) -> str:
    return f"{code.lower()}.duty"


def coord(code: str) -> str:
    return f"{code.lower()}.coord"


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


# --- content ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    by: str  # agency key
    text: str
    edit: str = ""  # the author's corrected text, a few minutes later
    redact: str = ""  # a coordinator redacts it, with this reason


@dataclass(frozen=True)
class Scenario:
    key: str
    category: str
    severity: str
    people: tuple[int, int]
    title: str
    description: str
    location: str
    reporter: str  # agency key
    invites: tuple[tuple[str, str], ...]  # (agency key, note)
    messages: tuple[Msg, ...]
    resolution: str
    closure: str
    lead: str = ""  # hands the lead to this agency after inviting it
    sop: str = ""  # a joint operation from this SOP, at the incident's activation


AIRPORT = (
    Scenario(
        "tip",
        "trafficking_in_persons",
        "high",
        (2, 4),
        "{n} young women on flight {flight} with identical job offer letters",
        "Women aged about 19-23 travelling together on {flight}; identical letters offering "
        "'hotel work' from the same agent. One says her passport is kept by the man who met "
        "them at departure. Held at second line.",
        "Arrivals, second-line interview rooms",
        "imm",
        (("pol", "Trafficking indicators; need the anti-trafficking unit"), ("air", "")),
        (
            Msg("imm", "Separated the group from the escort at the gate. Interpreter requested."),
            Msg(
                "pol", "Anti-trafficking unit on the way, ETA 40 minutes. Keep the escort airside."
            ),
            Msg("air", "CCTV of the gate area from 10:00 saved for the police."),
            Msg("imm", "Screening done: documents controlled by escort, debt for tickets, no pay."),
            Msg("pol", "Escort arrested; phone and 3 boarding passes seized as evidence."),
            Msg("imm", "All {n} referred to the shelter; the receiving social worker has signed."),
        ),
        "Victims referred to protection services; escort charged with trafficking.",
        "Case handed to the prosecutor; nothing further at the airport.",
        sop="tip-screening",
    ),
    Scenario(
        "doc",
        "document_fraud",
        "medium",
        (1, 1),
        "Photo-substituted passport presented at primary line {desk}",
        "Passenger off {flight} presented a passport whose photo page laminate is lifted at the "
        "corner; the face does not match the chip image.",
        "Arrivals hall, primary desk {desk}",
        "imm",
        (("pol", "Possible forgery; SLTD check and statement"),),
        (
            Msg("imm", "Second line: laminate lifted, UV shows a second image under the photo."),
            Msg("pol", "SLTD hit: passport {doc} reported stolen two months ago."),
            Msg("imm", "Holder of passport {doc} refused entry; return booked on the next flight."),
            Msg("pol", "Document seized, receipt issued. Statement taken."),
        ),
        "Passenger refused entry and returned; document seized as evidence.",
        "Document sent to the forensic lab; file closed.",
        lead="pol",
    ),
    Scenario(
        "drugs",
        "contraband",
        "high",
        (1, 1),
        "Suspected drug swallower on flight {flight}",
        "Passenger on {flight}, short stay, paid the ticket in cash, refused food on board. "
        "Body scan shows foreign objects in the abdomen.",
        "Customs examination room",
        "cus",
        (("pol", "Arrest and hospital escort"), ("imm", "Travel history")),
        (
            Msg("cus", "Scan positive: about {k}0 pellets. Passenger under observation."),
            Msg("imm", "Third trip on the same route in two months, each time two nights."),
            Msg("pol", "Arrested; escort to hospital for supervised excretion."),
            Msg("cus", "{k}0 pellets recovered so far, field test positive for cocaine."),
        ),
        "Pellets recovered and handed over; passenger charged.",
        "Exhibits with the forensic lab; file closed.",
        lead="pol",
    ),
    Scenario(
        "bag",
        "security_threat",
        "high",
        (0, 0),
        "Unattended bag at check-in row {desk}",
        "Black trolley bag left at check-in row {desk} for over 20 minutes; no owner found "
        "after announcements.",
        "Departures, check-in row {desk}",
        "air",
        (("pol", "Cordon and bomb squad assessment"), ("cus", "")),
        (
            Msg("air", "Area cordoned off, passengers moved to the next row."),
            Msg("pol", "Explosives dog handler on site."),
            Msg("pol", "Dog negative. Owner found at the café; bag returned after questioning."),
        ),
        "False alarm; owner warned.",
        "Nothing further.",
    ),
    Scenario(
        "cash",
        "contraband",
        "medium",
        (1, 1),
        "Undeclared cash in hand luggage, flight {flight}",
        "Departing passenger on {flight} with undeclared currency well above the declaration "
        "limit, in envelopes inside a laptop bag.",
        "Departures, customs control",
        "cus",
        (("pol", "Possible money laundering"),),
        (
            Msg("cus", "Counted: the equivalent of about {k}00 000 in three currencies."),
            Msg("pol", "Financial crimes unit informed, they want the money held."),
            Msg("cus", "Cash detained with a receipt; passenger allowed to travel."),
        ),
        "Cash detained pending the investigation.",
        "Handed over to the financial crimes unit.",
    ),
)

SEAPORT = (
    Scenario(
        "crew",
        "vessel_interdiction",
        "high",
        (4, 12),
        "Trawler {vessel} with {n} persons not on the crew list",
        "Trawler {vessel} boarded at the outer anchorage; the crew list shows 18, another {n} "
        "aboard without seaman's books.",
        "Outer anchorage B",
        "cgd",
        (("imm", "Crew screening"), ("cus", "Hold search"), ("prt", "Berth for the vessel")),
        (
            Msg("cgd", "Vessel stopped and boarded; master cooperative. Safety sweep done."),
            Msg("prt", "Berth 4 free from 14:00, pilot booked."),
            Msg(
                "imm", "{n} persons without seaman's books; interviews started with an interpreter."
            ),
            Msg("cus", "Holds searched: fish only, nothing undeclared."),
            Msg("imm", "Interviews done: recruited as casual crew, no contracts. Master fined."),
        ),
        "Crew regularised or returned; master fined under the Immigration Act.",
        "Vessel released after payment of the fine.",
        sop="vessel-interdiction",
    ),
    Scenario(
        "stow",
        "migrant_smuggling",
        "critical",
        (2, 5),
        "{n} stowaways found in a container at stack {stack}",
        "Scanner image showed persons inside a reefer container at stack {stack}; {n} men found, "
        "one dehydrated.",
        "Container terminal, stack {stack}",
        "prt",
        (("imm", ""), ("pol", "Smuggling investigation"), ("hlt", "One person dehydrated")),
        (
            Msg("prt", "Container opened, {n} men out. Terminal work stopped at the stack."),
            Msg("hlt", "Paramedics on site; one to hospital, the others stable."),
            Msg("imm", "Interviews: they paid an agent in the port of loading."),
            Msg(
                "pol", "Container seal number and booking recorded; the shipping line is informed."
            ),
        ),
        "Persons handed to immigration; smuggling case opened.",
        "Case with the police; nothing further at the port.",
    ),
    Scenario(
        "abalone",
        "contraband",
        "high",
        (0, 0),
        "Undeclared abalone in a reefer container, booking {booking}",
        "Reefer declared as frozen hake, booking {booking}; scan shows an irregular load behind "
        "the first pallets.",
        "Customs examination bay",
        "cus",
        (("pol", "Wildlife crime"), ("prt", "Container move to the bay")),
        (
            Msg(
                "cus",
                "Container MSKU 448102-7 opened: dried abalone behind two rows of hake.",
                edit="Container MSKU 448120-7 opened: dried abalone behind two rows of hake.",
            ),
            Msg("prt", "Container moved to the bay and plugged in."),
            Msg("pol", "Wildlife crime unit takes over the exhibits."),
            Msg("cus", "About {k}00 kg of dried abalone; consignee under investigation."),
        ),
        "Abalone seized; consignee under investigation.",
        "Exhibits handed over; file closed.",
        lead="pol",
    ),
    Scenario(
        "jump",
        "irregular_crossing",
        "medium",
        (1, 1),
        "Crew member of {vessel} left the port without shore pass",
        "Master of {vessel} reports one crew member missing since the evening; no shore pass "
        "was issued.",
        "Berth 7",
        "imm",
        (("pol", "Search in town"), ("prt", "Gate records")),
        (
            Msg("prt", "Gate log: he walked out at 21:40 with the chandler's crew."),
            Msg("pol", "Found at the bus station; returned to the vessel."),
        ),
        "Crew member returned to the vessel; master warned.",
        "Vessel sailed with all crew aboard.",
    ),
    Scenario(
        "boat",
        "security_threat",
        "medium",
        (2, 3),
        "Unregistered small craft alongside a tanker at anchorage",
        "Port control saw a small craft without lights alongside tanker {vessel} at night.",
        "Inner anchorage",
        "cgd",
        (("pol", ""), ("prt", "Port control radar track")),
        (
            Msg("prt", "Radar track saved: craft left to the north at 02:10."),
            Msg("cgd", "Patrol boat intercepted the craft: {n} men, fuel drums, no papers."),
            Msg("pol", "Men arrested for fuel theft; craft towed in."),
        ),
        "Fuel theft stopped; three arrested.",
        "Handed to the police; nothing further.",
    ),
)

LAND = (
    Scenario(
        "group",
        "irregular_crossing",
        "medium",
        (8, 20),
        "Group of about {n} crossing on foot east of the post at night",
        "Patrol saw a group of about {n} adults cross the floodplain 2 km east of the post.",
        "Floodplain, 2 km east of the control zone",
        "pol",
        (("imm", "Processing if intercepted"), ("zimm", "Counterpart side"), ("hlt", "")),
        (
            Msg(
                "pol",
                "Patrol intercepted part of the group: counted 14 so far.",
                edit="Patrol intercepted part of the group: counted 16 so far.",
            ),
            Msg("imm", "Reception point set up at the old weighbridge."),
            Msg("zimm", "Our side: same group seen at the market in the afternoon."),
            Msg("hlt", "First aid given to two with cuts; nobody needs hospital."),
            Msg("imm", "All registered; {n} returned through the post, 2 asylum claims referred."),
        ),
        "Group processed; asylum claims referred.",
        "Nothing further.",
        sop="mass-arrival-land",
    ),
    Scenario(
        "truck",
        "migrant_smuggling",
        "critical",
        (6, 18),
        "{n} people hidden in a truck's trailer, plate {plate}",
        "Scanner image of truck {plate} shows people behind the load of cement bags; the "
        "driver declared cement only.",
        "Commercial lane, scanner",
        "cus",
        (("imm", ""), ("pol", "Arrest the driver"), ("hlt", "Heat exposure")),
        (
            Msg("cus", "Trailer opened: {n} people behind the cement bags, very hot inside."),
            Msg("hlt", "Water and shade given; two to the clinic with heat exhaustion."),
            Msg("pol", "Driver arrested; the phone shows payments from a known smuggler."),
            Msg("imm", "All registered; 3 minors unaccompanied, referred to social services."),
        ),
        "Driver charged with smuggling; persons processed.",
        "Case with the police.",
        lead="pol",
    ),
    Scenario(
        "minors",
        "trafficking_in_persons",
        "high",
        (3, 5),
        "{n} children on a bus with an adult who is not their parent",
        "Bus {plate}: one woman travelling with {n} children aged 8-13; the consent letters are "
        "all signed by the same person.",
        "Bus lane, arrival hall",
        "imm",
        (("pol", "Child protection unit"), ("dha", "Check the birth certificates")),
        (
            Msg("imm", "Children separated with a female officer; they say they go to 'work'."),
            Msg(
                "pol",
                "Spoke to the mother of the eldest on {phone}; she did not know of the trip.",
                redact="A family member's phone number, in a channel many agencies read; "
                "it is recorded in the case file.",
            ),
            Msg("dha", "Two of the birth certificates were never issued by our offices."),
            Msg("pol", "Woman arrested; the children are with a place of safety."),
        ),
        "Children in a place of safety; the escort charged with trafficking.",
        "Handed to the prosecutor and social services.",
        lead="pol",
    ),
    Scenario(
        "permits",
        "document_fraud",
        "medium",
        (2, 4),
        "Counterfeit work permits presented by {n} travellers",
        "{n} travellers presented work permits with the same serial range and a wrong hologram.",
        "Passenger hall, desk {desk}",
        "imm",
        (("pol", ""), ("dha", "Confirm the permits"), ("zimm", "Counterpart check")),
        (
            Msg("imm", "Permits have the same serial range; hologram is a sticker."),
            Msg("dha", "No such permits in the register."),
            Msg("zimm", "The agent who sold them is known on our side; we are looking for him."),
            Msg("pol", "Travellers charged and fined; permits seized."),
        ),
        "Travellers refused entry; permits seized.",
        "Nothing further.",
    ),
    Scenario(
        "cigs",
        "contraband",
        "medium",
        (0, 0),
        "Cigarettes hidden in the fuel tank of a minibus, plate {plate}",
        "Minibus {plate}: fuel gauge full but the tank sounds hollow; cartons found in a "
        "welded compartment.",
        "Light vehicle lane",
        "cus",
        (("pol", ""), ("zcus", "Counterpart side")),
        (
            Msg("cus", "{k}0 master cases of cigarettes in a false compartment."),
            Msg("zcus", "The minibus crossed twice last week; we share the export records."),
            Msg("pol", "Driver arrested, vehicle impounded."),
        ),
        "Cigarettes and vehicle seized; driver charged.",
        "Nothing further.",
    ),
)

# At WVB, a crew member whose passport was refused at WDH weeks earlier.
SHARED_CREW = Scenario(
    "shared",
    "vessel_interdiction",
    "high",
    (1, 1),
    "Crew member of {vessel} signing on with a passport flagged at the airport",
    f"Crew change on {{vessel}}: one new crew member presented passport {SHARED_DOCUMENT}, "
    "the same number refused at the airport weeks ago, now with a different photo.",
    "Berth 2, crew change",
    "imm",
    (("pol", "SLTD hit; arrest?"), ("cgd", "Vessel may not sail")),
    (
        Msg("imm", "Passport matches the one refused at the airport; the photo differs again."),
        Msg("pol", "Arrested for using a stolen document; statement at the station."),
        Msg("cgd", "Vessel held until the master provides a replacement crew list."),
    ),
    "Crew member arrested; vessel sailed with a corrected crew list.",
    "Case joined to the airport case.",
)

SCENARIOS = {"airport": AIRPORT, "seaport": SEAPORT, "land": LAND}

ALERTS = {
    "airport": (
        (
            "document_fraud",
            "high",
            "Counterfeit {nat} visas on connecting flights",
            "Visa foils with a misaligned hologram; second-line check on connecting arrivals.",
        ),
        (
            "trafficking_risk",
            "medium",
            "Recruiter booking groups of young women on {flight}",
            "Watch for groups with identical job letters.",
        ),
        (
            "wanted_person",
            "high",
            "Wanted person may travel through the airport today",
            "Police circulated a photograph; check every passport on the morning flights.",
        ),
        (
            "systems",
            "low",
            "Passport reader at the primary line intermittently down",
            "Key in the data page manually; report the document numbers that failed.",
        ),
        (
            "health",
            "medium",
            "Fever screening for arrivals from an outbreak area",
            "Port health asks for the thermal camera on all arrivals from the region.",
        ),
    ),
    "seaport": (
        (
            "vessel_of_interest",
            "high",
            "Vessel of interest {vessel} expected at anchorage",
            "Reported with undeclared crew on the last port call; board before berthing.",
        ),
        (
            "smuggling",
            "medium",
            "Reefers from one shipper used to hide people",
            "Scan every reefer of this shipper before it leaves the terminal.",
        ),
        (
            "weather",
            "low",
            "Gale warning: small craft to stay in harbour",
            "Boarding operations suspended at the outer anchorage until further notice.",
        ),
        (
            "security_threat",
            "critical",
            "Fuel theft gang active at the inner anchorage",
            "Small craft without lights seen at night; report any to port control.",
        ),
    ),
    "land": (
        (
            "smuggling",
            "high",
            "Trucks with hidden compartments on the commercial lane",
            "Three cases this month; scan every empty truck going north.",
        ),
        (
            "trafficking_risk",
            "medium",
            "Recruiters offering 'hotel jobs' to young women",
            "Community reports of recruiters near the bus rank.",
        ),
        (
            "wanted_person",
            "critical",
            "Escaped prisoner may try to cross tonight",
            "Photograph circulated by police; check every traveller and vehicle.",
        ),
        (
            "systems",
            "low",
            "Border management system slow this afternoon",
            "Use the paper register if a lookup takes over a minute.",
        ),
    ),
}

TASK_NOTES = {
    "tip-screening": {
        2: "Indicators observed: documents held by escort, debt for travel, deceived about work.",
        3: "Documents checked; no SLTD hits on the travellers' passports.",
        5: "Escort's phone, tickets and passports sealed, bags 0412-0415.",
        7: "Referred to the shelter, reference SH-2211; receiving social worker signed.",
        8: "Joint report sent to the coordination committee.",
    },
    "vessel-interdiction": {
        1: "IMO and MMSI confirmed; flag state informed; last port of call on the AIS track.",
        3: "Safety sweep done; crew count differs from the list.",
        4: "Manifest checked against persons aboard; differences listed in the report.",
        6: "Holds searched; two containers sealed, seals 7741 and 7742.",
        7: "Interviews done; protection cases referred.",
        8: "Vessel detained until the fine is paid, under the Immigration Act.",
    },
    "document-fraud-check": {
        1: "Laminate lifted, UV shows a second image; microprint blurred.",
        3: "SLTD hit: reported stolen.",
        4: "Issuing authority: not issued to the holder; their reference on file.",
        5: "Refused entry under the Immigration Act.",
        6: "Document seized, receipt issued.",
    },
    "mass-arrival-land": {
        2: "Counted arrivals; children, injured and elderly listed separately.",
        5: "Registered with fingerprints and photographs.",
        7: "Asylum claims and protection cases referred.",
    },
}


# --- the plan -----------------------------------------------------------------------------


class Ctx:
    """What earlier steps made: step name -> (stream, object id) of its receipt."""

    def __init__(self, receipts: dict[uuid.UUID, WriteReceipt]) -> None:
        self.receipts = receipts
        self.users: dict[str, User] = {}

    def user(self, username: str) -> User:
        if username not in self.users:
            self.users[username] = User.objects.get(username=username)
        return self.users[username]

    def receipt(self, name: str) -> WriteReceipt:
        cmid = demo_id(name)
        if cmid not in self.receipts:
            self.receipts[cmid] = WriteReceipt.objects.get(client_msg_id=cmid)
        return self.receipts[cmid]

    def ref(self, name: str) -> str:
        return self.receipt(name).stream.split(":", 1)[1]

    def pk(self, name: str) -> int:
        return int(self.receipt(name).object_id)


Run = Callable[[Ctx, datetime], None]


@dataclass
class Step:
    when: timedelta  # after the start of the history
    name: str  # its client_msg_id is demo_id(name); "" for a claim without one
    run: Run


@dataclass
class Counts:
    incidents: dict[str, int] = field(default_factory=dict)
    alerts: int = 0
    operations: int = 0


@dataclass(frozen=True)
class HistorySummary:
    steps: int
    written: int  # events
    incidents: dict[str, int]
    alerts: int
    operations: int
    start: datetime | None
    skipped: bool = False


class Plan:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)  # noqa: S311 - demo content, not secrets
        self.steps: list[Step] = []
        self.counts = Counts()
        self.edits = 0
        self.edited: set[str] = set()
        self.redactions = 0
        self.end = SPAN - QUIET

    def add(self, when: timedelta, name: str, run: Run) -> None:
        self.steps.append(Step(min(when, self.end), name, run))

    def gap(self, low: float, high: float) -> timedelta:
        return minutes(self.rng.uniform(low, high))

    def response(self) -> timedelta:
        """An invited agency's first answer: mostly minutes, sometimes hours."""
        r = self.rng.random()
        if r < 0.6:
            return self.gap(2, 20)
        if r < 0.9:
            return self.gap(20, 120)
        return self.gap(120, 360)

    # --- incidents ------------------------------------------------------------------------

    def incident(
        self, point: str, n: int, sc: Scenario, start: timedelta, slots: dict[str, str]
    ) -> None:
        key = f"history-{point}-{n}"
        rng = self.rng
        age = SPAN - start
        reporter = agency(point, sc.reporter)
        assert reporter is not None, (point, sc.key)
        people = rng.randint(*sc.people)
        fill = slots | {"n": str(people or rng.randint(2, 9)), "k": str(rng.randint(2, 9))}

        def text(s: str) -> str:
            return s.format(**fill)

        occurred = self.gap(5, 45)
        self.add(
            start,
            f"{key}-report",
            lambda c, now: (
                incidents.incident_report(
                    actor=c.user(duty(reporter)),
                    crossing_point=point,
                    title=text(sc.title)[:200],
                    category=sc.category,
                    severity=sc.severity,
                    occurred_at=now - occurred,
                    people_count=people,
                    description=text(sc.description),
                    location_detail=text(sc.location),
                    client_msg_id=demo_id(f"{key}-report"),
                ),
                None,
            )[1],
        )
        self.counts.incidents[point] = self.counts.incidents.get(point, 0) + 1
        # The fate: old incidents are closed, recent ones still open.
        days = age / timedelta(days=1)
        if days > 9:
            fate = "closed" if rng.random() < 0.85 else "resolved"
        elif days > 4:
            fate = "resolved" if rng.random() < 0.6 else "active"
        else:
            fate = rng.choice(["reported", "triaged", "active", "active"])
        stages = ["reported", "triaged", "active", "resolved", "closed"]
        reach = stages.index(fate)
        t = start
        lead = reporter
        messages = list(sc.messages)
        times: list[timedelta] = []
        posted: dict[str, timedelta] = {}
        if messages and messages[0].by == sc.reporter:
            first = messages.pop(0)
            t_msg = start + self.gap(1, 6)
            self.message(key, 0, point, first, t_msg, text, lead_of=lambda: lead)
            times.append(t_msg)
        if reach == 0:
            return
        t = start + self.gap(5, 40)
        self.add(t, f"{key}-triaged", self.transition(key, coord(reporter), "triaged"))
        invited: dict[str, timedelta] = {sc.reporter: start}
        for akey, note in sc.invites:
            code = agency(point, akey)
            if code is None:
                continue
            t += self.gap(1, 10)
            invited[akey] = t
            self.add(t, f"{key}-invite-{code}", self.invite(key, coord(reporter), code, note))
        if sc.lead and agency(point, sc.lead) and sc.lead in invited:
            t += self.gap(5, 30)
            lead = str(agency(point, sc.lead))
            self.add(t, f"{key}-lead", self.set_lead(key, coord(reporter), lead))
        t_active = t + self.gap(5, 30)
        if reach >= 2:
            self.add(t_active, f"{key}-active", self.transition(key, coord(lead), "active"))
        cursor = t
        for i, msg in enumerate(messages, start=1):
            if msg.by not in invited:
                continue
            if msg.by not in posted and msg.by != sc.reporter:
                t_msg = max(invited[msg.by] + self.response(), cursor + self.gap(1, 5))
            else:
                t_msg = cursor + self.gap(5, 90)
            if reach < 2 and t_msg > SPAN - QUIET:
                break
            posted[msg.by] = t_msg
            cursor = t_msg
            times.append(t_msg)
            self.message(key, i, point, msg, t_msg, text, lead_of=lambda: lead)
        last = max([t_active, *times])
        if sc.sop and reach >= 2:
            last = max(last, self.operation(point, n, sc.sop, key, t_active, lead, fate))
        if sc.sop and reach >= 3:
            last = max(last, self.cadence(key, coord(lead), t_active, last))
        if reach < 3:
            return
        t_resolved = last + self.gap(30, 24 * 60)
        self.add(
            t_resolved,
            f"{key}-resolved",
            self.transition(key, coord(lead), "resolved", sc.resolution),
        )
        if reach < 4:
            return
        self.add(
            t_resolved + self.gap(24 * 60, 4 * 24 * 60),
            f"{key}-closed",
            self.transition(key, coord(lead), "closed", sc.closure),
        )

    def message(
        self,
        key: str,
        i: int,
        point: str,
        msg: Msg,
        when: timedelta,
        text: Callable[[str], str],
        lead_of: Callable[[], str],
    ) -> None:
        code = agency(point, msg.by)
        assert code is not None
        name = f"{key}-msg-{i}"
        body = text(msg.text)
        self.add(
            when,
            name,
            lambda c, now: (
                incidents.message_post(
                    actor=c.user(duty(code)),
                    ref=c.ref(f"{key}-report"),
                    body=body,
                    client_msg_id=demo_id(name),
                ),
                None,
            )[1],
        )
        if msg.edit and msg.text not in self.edited and self.edits < 2:
            self.edits += 1
            self.edited.add(msg.text)
            edited = text(msg.edit)
            self.add(
                when + self.gap(2, 9),
                f"{name}-edit",
                lambda c, now: (
                    incidents.message_edit(
                        actor=c.user(duty(code)),
                        ref=c.ref(f"{key}-report"),
                        message_id=c.pk(name),
                        body=edited,
                        client_msg_id=demo_id(f"{name}-edit"),
                    ),
                    None,
                )[1],
            )
        if msg.redact and self.redactions < 1:
            self.redactions += 1
            redactor = coord(lead_of())
            self.add(
                when + self.gap(20, 60),
                f"{name}-redact",
                lambda c, now: (
                    incidents.message_redact(
                        actor=c.user(redactor),
                        ref=c.ref(f"{key}-report"),
                        message_id=c.pk(name),
                        reason=msg.redact,
                        client_msg_id=demo_id(f"{name}-redact"),
                    ),
                    None,
                )[1],
            )

    def transition(self, key: str, username: str, to: str, reason: str = "") -> Run:
        def run(c: Ctx, now: datetime) -> None:
            incidents.incident_transition(
                actor=c.user(username),
                ref=c.ref(f"{key}-report"),
                to_status=to,
                reason=reason,
                client_msg_id=demo_id(f"{key}-{to}"),
            )

        return run

    def invite(self, key: str, username: str, code: str, note: str) -> Run:
        def run(c: Ctx, now: datetime) -> None:
            incidents.incident_invite_agency(
                actor=c.user(username),
                ref=c.ref(f"{key}-report"),
                agency=code,
                note=note,
                client_msg_id=demo_id(f"{key}-invite-{code}"),
            )

        return run

    def set_lead(self, key: str, username: str, code: str) -> Run:
        def run(c: Ctx, now: datetime) -> None:
            incidents.incident_set_lead(
                actor=c.user(username),
                ref=c.ref(f"{key}-report"),
                agency=code,
                client_msg_id=demo_id(f"{key}-lead"),
            )

        return run

    # --- situation reports on a cadence: on time, then one late (reminded), then on time ----

    def cadence(self, key: str, username: str, t_active: timedelta, last: timedelta) -> timedelta:
        every = 120
        t = t_active + self.gap(5, 15)
        name = f"{key}-sitrep-cadence"
        self.add(
            t,
            name,
            lambda c, now: (
                sitreps.sitrep_cadence_set(
                    actor=c.user(username),
                    kind="incident",
                    ref=c.ref(f"{key}-report"),
                    every_minutes=every,
                    client_msg_id=demo_id(name),
                ),
                None,
            )[1],
        )
        reports = (
            ("on time", every - self.rng.uniform(5, 25)),
            ("late", every + self.rng.uniform(15, 45)),
            ("on time", every - self.rng.uniform(5, 25)),
        )
        for number, (kind, after) in enumerate(reports, start=1):
            due = t + minutes(every)
            if kind == "late":
                self.add(due + timedelta(seconds=30), "", self.remind(key))
            t = t + minutes(after)
            self.add(t, f"{key}-sitrep-{number}", self.sitrep(key, username, number))
        return max(t, last)

    def remind(self, key: str) -> Run:
        def run(c: Ctx, now: datetime) -> None:
            subject = SitrepSubject.objects.get(incident__ref=c.ref(f"{key}-report"))
            sitreps.sitrep_remind(subject_id=subject.pk, now=now)

        return run

    def sitrep(self, key: str, username: str, number: int) -> Run:
        situations = (
            "Persons held at the reception point; screening under way.",
            "Screening half done; interpreters arrived late, hence this late report.",
            "Screening complete; referrals made; the scene is being handed back.",
        )

        def run(c: Ctx, now: datetime) -> None:
            sitreps.sitrep_post(
                actor=c.user(username),
                kind="incident",
                ref=c.ref(f"{key}-report"),
                situation=situations[number - 1],
                actions_taken="Joint checklist followed; see the operation's tasks.",
                next_steps="Next report at the cadence." if number < 3 else "Resolve the incident.",
                client_msg_id=demo_id(f"{key}-sitrep-{number}"),
            )

        return run

    # --- joint operations --------------------------------------------------------------------

    def operation(
        self,
        point: str,
        n: int,
        template: str,
        incident_key: str,
        t0: timedelta,
        lead: str,
        fate: str,
    ) -> timedelta:
        """Start an operation on the incident; returns when its last step runs."""
        key = f"history-{point}-op-{n}"
        self.counts.operations += 1
        sop = next(s for s in SOPS if s.code == template)
        start = t0 + self.gap(5, 20)
        starter = coord(lead)
        self.add(
            start,
            f"{key}-start",
            lambda c, now: (
                ops.operation_start(
                    actor=c.user(starter),
                    crossing_point=point,
                    template=template,
                    incident=c.ref(f"{incident_key}-report"),
                    client_msg_id=demo_id(f"{key}-start"),
                ),
                None,
            )[1],
        )
        live = fate in {"active"}  # the operation is still running: some tasks overdue
        last = start
        for position, item in enumerate(sop.items, start=1):
            offset = item.due_offset_minutes
            due = start + minutes(offset)
            r = self.rng.random()
            if live and position > len(sop.items) - 2:
                outcome = "open" if r < 0.5 else "in_progress"
            elif r < 0.2:
                outcome = "late"
            else:
                outcome = "on_time"
            began = start + minutes(offset * self.rng.uniform(0.1, 0.4))
            note = TASK_NOTES.get(template, {}).get(position, "")
            if outcome != "open":
                self.add(began, f"{key}-task-{position}-begin", self.task(key, position, "begin"))
            if outcome in {"open", "in_progress", "late"}:
                self.add(due + timedelta(seconds=20), "", self.task_escalate(key, position))
            if outcome in {"on_time", "late"}:
                done = (
                    start + minutes(offset * self.rng.uniform(0.5, 0.95))
                    if outcome == "on_time"
                    else due + self.gap(10, 90)
                )
                done = max(done, began + self.gap(2, 10))
                self.add(
                    done, f"{key}-task-{position}-done", self.task(key, position, "done", note)
                )
                last = max(last, done)
                if item.requires_cosign:
                    signed = done + self.gap(3, 30)
                    self.add(signed, f"{key}-task-{position}-cosign", self.cosign(key, position))
                    last = max(last, signed)
        if not live:
            close = last + self.gap(20, 60)
            self.add(
                close,
                f"{key}-close",
                lambda c, now: (
                    ops.operation_close(
                        actor=c.user(starter),
                        ref=c.ref(f"{key}-start"),
                        note="All tasks done or not applicable; debrief held.",
                        client_msg_id=demo_id(f"{key}-close"),
                    ),
                    None,
                )[1],
            )
            last = close
        return last

    def task(self, key: str, position: int, what: str, note: str = "") -> Run:
        name = f"{key}-task-{position}-{what}"

        def run(c: Ctx, now: datetime) -> None:
            ref = c.ref(f"{key}-start")
            task = Task.objects.select_related("assigned_agency", "operation__lead_agency").get(
                operation__ref=ref, position=position
            )
            if task.assigned_agency is None:
                # No agency of this kind at the point: the lead coordinator says so.
                if what == "done" and task.status == "open":
                    ops.task_update(
                        actor=c.user(coord(task.operation.lead_agency.code)),
                        ref=ref,
                        task_id=task.pk,
                        status="not_applicable",
                        reason="No agency of this kind at this crossing point.",
                        client_msg_id=demo_id(name),
                    )
                return
            ops.task_update(
                actor=c.user(duty(task.assigned_agency.code)),
                ref=ref,
                task_id=task.pk,
                status="in_progress" if what == "begin" else "done",
                note=(note or "Done; details in the case file.")
                if what == "done" and task.requires_note
                else None,
                client_msg_id=demo_id(name),
            )

        return run

    def cosign(self, key: str, position: int) -> Run:
        name = f"{key}-task-{position}-cosign"

        def run(c: Ctx, now: datetime) -> None:
            ref = c.ref(f"{key}-start")
            task = Task.objects.select_related("assigned_agency", "operation").get(
                operation__ref=ref, position=position
            )
            if task.assigned_agency is None or task.status != "done":
                return
            point = task.operation.crossing_point.code
            other = sorted(DEPLOYED[point] - {task.assigned_agency.code})
            lead = task.operation.lead_agency.code
            signer = lead if lead in other else other[0]
            ops.task_cosign(
                actor=c.user(duty(signer)),
                ref=ref,
                task_id=task.pk,
                note="Seen and agreed.",
                client_msg_id=demo_id(name),
            )

        return run

    def task_escalate(self, key: str, position: int) -> Run:
        def run(c: Ctx, now: datetime) -> None:
            task = Task.objects.get(operation__ref=c.ref(f"{key}-start"), position=position)
            ops.task_escalate(task_id=task.pk, now=now)

        return run

    # --- alerts ----------------------------------------------------------------------------

    def alert(
        self,
        point: str,
        n: int,
        spec: tuple[str, str, str, str],
        when: timedelta,
        slots: dict[str, str],
        never: bool,
    ) -> None:
        category, severity, title, body = spec
        key = f"history-{point}-alert-{n}"
        self.counts.alerts += 1
        issuers = sorted(DEPLOYED[point])
        issuer = issuers[n % len(issuers)]
        targets = [a for a in issuers if a != issuer]
        expires = timedelta(hours=self.rng.choice([24, 36, 48, 72]))
        window = minutes({"critical": 5, "high": 15, "medium": 60, "low": 240}[severity])
        self.add(
            when,
            f"{key}-issue",
            lambda c, now: (
                alerts.alert_issue(
                    actor=c.user(coord(issuer)),
                    crossing_point=point,
                    category=category,
                    severity=severity,
                    title=title.format(**slots),
                    body=body.format(**slots),
                    expires_at=now + expires,
                    client_msg_id=demo_id(f"{key}-issue"),
                ),
                None,
            )[1],
        )
        silent = self.rng.choice(targets) if never else None
        for code in targets:
            if code == silent:
                delay = None
            else:
                r = self.rng.random()
                if r < 0.8:
                    delay = window * self.rng.uniform(0.05, 0.9)
                else:
                    delay = window * self.rng.uniform(1.2, 3.0)
            if delay is None or delay > window:
                self.add(when + window + timedelta(seconds=20), "", self.alert_escalate(key, code))
            if delay is not None:
                name = f"{key}-ack-{code}"
                self.add(when + delay, name, self.ack(key, code, name))
        expiry = when + expires + timedelta(seconds=15)
        if expiry < SPAN - timedelta(minutes=1):
            # Expired before the seeding: the job loop's claim, at its time. (One still
            # live at the seeding is left to the job loop, as in a running hub.)
            self.steps.append(Step(expiry, "", self.alert_expire(key)))

    def ack(self, key: str, code: str, name: str) -> Run:
        def run(c: Ctx, now: datetime) -> None:
            alerts.alert_acknowledge(
                actor=c.user(duty(code)),
                alert_id=c.pk(f"{key}-issue"),
                agency=code,
                client_msg_id=demo_id(name),
            )

        return run

    def alert_escalate(self, key: str, code: str) -> Run:
        def run(c: Ctx, now: datetime) -> None:
            target = AlertTarget.objects.get(alert_id=c.pk(f"{key}-issue"), agency__code=code)
            alerts.alert_target_escalate(target_id=target.pk, now=now)

        return run

    def alert_expire(self, key: str) -> Run:
        def run(c: Ctx, now: datetime) -> None:
            alerts.alert_expire(alert_id=c.pk(f"{key}-issue"), now=now)

        return run


def _slots(rng: random.Random, point: str) -> dict[str, str]:
    prefix = {"WDH": "SA", "JNB": "ET", "WEN": "", "BBR": "", "WVB": "", "DUR": ""}[point]
    return {
        "flight": f"{prefix or 'SA'} {rng.randint(100, 989)}",
        "desk": str(rng.randint(2, 14)),
        "doc": f"{rng.choice('NPAE')}{rng.randint(1000000, 9999999)}",
        "vessel": rng.choice(
            ["MV Ocean Pride", "FV Lucky Star 7", "MV Cape Horizon", "FV Nova Sul", "MT Kestrel"]
        ),
        "stack": str(rng.randint(3, 40)),
        "booking": f"BKG{rng.randint(100000, 999999)}",
        "plate": (
            f"N {rng.randint(1000, 99999)} W"
            if COUNTRY[point] == "NA"
            else f"{''.join(rng.choices('BCDFGHJKLMNPRSTVWXYZ', k=3))} {rng.randint(100, 999)} L"
        ),
        "nat": rng.choice(["Schengen", "UK", "US", "Canadian"]),
        "phone": "+264 81 555 0142" if COUNTRY[point] == "NA" else "+27 82 555 0142",
    }


def build_plan() -> Plan:
    plan = Plan()
    rng = plan.rng
    for spec in CROSSING_POINTS:
        point = spec.code
        kind = KIND[point]
        scenarios = SCENARIOS[kind]
        # Incidents spread over the weeks, a little jitter, oldest first.
        starts = sorted(
            SPAN * (i + rng.uniform(0.1, 0.9)) / INCIDENTS_PER_POINT
            for i in range(INCIDENTS_PER_POINT)
        )
        for n, start in enumerate(starts, start=1):
            sc = scenarios[(n - 1) % len(scenarios)]
            slots = _slots(rng, point)
            if point == "WDH" and n == 2:
                assert sc.key == "doc"
                slots["doc"] = SHARED_DOCUMENT
            if point == "WVB" and n == 5:
                sc = SHARED_CREW
            plan.incident(point, n, sc, start, slots)
        specs = ALERTS[kind]
        for n, when in enumerate(
            sorted(SPAN * (i + rng.uniform(0.1, 0.9)) / 5 for i in range(5)), start=1
        ):
            never = (point, n) in {("WDH", 2), ("DUR", 3), ("WEN", 4)}
            plan.alert(point, n, specs[(n - 1) % len(specs)], when, _slots(rng, point), never)
    return plan


def _anchor(plan: Plan, receipts: dict[uuid.UUID, WriteReceipt]) -> datetime | None:
    """The first run's seeding time (so a re-run replays the same clock), else None."""
    for step in plan.steps:
        if not step.name:
            continue
        receipt = receipts.get(demo_id(step.name))
        if receipt is None or receipt.seq is None:
            continue
        at = (
            Event.objects.filter(stream__name=receipt.stream, seq=receipt.seq)
            .values_list("at", flat=True)
            .first()
        )
        if at is not None:
            return at - step.when + SPAN
    return None


def seed_history(now: datetime | None = None) -> HistorySummary:
    """Write the history that is not written yet; see the module's docstring."""
    plan = build_plan()
    plan.steps.sort(key=lambda s: s.when)  # stable: a step's order among equals is kept
    names = [demo_id(s.name) for s in plan.steps if s.name]
    receipts = {r.client_msg_id: r for r in WriteReceipt.objects.filter(client_msg_id__in=names)}
    anchor = _anchor(plan, receipts)
    counts = plan.counts
    if anchor is None:
        if WriteReceipt.objects.filter(client_msg_id=demo_id("tip")).exists():
            # The current demo already ran without history: do not write the past after it.
            return HistorySummary(
                len(plan.steps), 0, counts.incidents, counts.alerts, counts.operations, None, True
            )
        anchor = (now or timezone.now()).replace(microsecond=0)
    start = anchor - SPAN
    ctx = Ctx(receipts)
    before = Event.objects.count()
    previous: datetime | None = None
    # The escalation and reminder claims e-mail officers after commit: demo addresses,
    # and long past; nobody is to be mailed, nor the console filled, about them.
    notify_log = logging.getLogger("hub.alerts.notify")
    level = notify_log.level
    notify_log.setLevel(logging.WARNING)
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            for step in plan.steps:
                at = start + step.when
                if previous is not None and at <= previous:
                    at = previous + timedelta(milliseconds=1)
                previous = at
                if step.name and demo_id(step.name) in receipts:
                    continue
                with demo_clock(at):
                    step.run(ctx, at)
    finally:
        notify_log.setLevel(level)
    written = Event.objects.count() - before
    return HistorySummary(
        len(plan.steps), written, counts.incidents, counts.alerts, counts.operations, start
    )
