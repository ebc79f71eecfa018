"""Demo reference data: two countries' crossing points, agencies and officers.

``seed_reference_data`` is idempotent: it converges the database to the data
below (update_or_create on natural keys) and creates demo users only once, so
running it twice leaves the same rows. Passwords are demo passwords, which is
why the command refuses to run under HUB_ENV=production.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from hub.accounts.models import User
from hub.agencies.models import (
    Agency,
    AgencyKind,
    Country,
    CrossingPoint,
    CrossingPointKind,
    Deployment,
    Membership,
    Role,
)

DEMO_PASSWORD = "border-demo-2026"  # noqa: S105 - printed for the demo on purpose
REFERENCE_ADMIN_GROUP = "Reference data administrators"

COUNTRIES = {
    "NA": "Namibia",
    "ZM": "Zambia",
    "ZA": "South Africa",
}


@dataclass(frozen=True)
class PointSpec:
    code: str
    name: str
    kind: str
    countries: tuple[str, ...]
    timezone: str
    latitude: str
    longitude: str
    agencies: tuple[str, ...]


@dataclass(frozen=True)
class AgencySpec:
    code: str
    name: str
    kind: str
    country: str


AGENCIES = (
    AgencySpec("NA-IMM", "Namibia Immigration Service", AgencyKind.IMMIGRATION, "NA"),
    AgencySpec("NA-CUS", "Namibia Customs and Excise", AgencyKind.CUSTOMS, "NA"),
    AgencySpec("NA-POL", "Namibia Border Police", AgencyKind.POLICE, "NA"),
    AgencySpec("NA-CGD", "Namibia Maritime Coastguard", AgencyKind.COASTGUARD, "NA"),
    AgencySpec("NA-AIR", "Namibia Airports Authority", AgencyKind.AIRPORT_AUTHORITY, "NA"),
    AgencySpec("NA-PRT", "Namibia Ports Authority", AgencyKind.PORT_AUTHORITY, "NA"),
    AgencySpec("ZM-IMM", "Zambia Immigration Department", AgencyKind.IMMIGRATION, "ZM"),
    AgencySpec("ZM-CUS", "Zambia Customs Service", AgencyKind.CUSTOMS, "ZM"),
    AgencySpec("ZA-IMM", "South Africa Border Immigration", AgencyKind.IMMIGRATION, "ZA"),
    AgencySpec("ZA-CUS", "South Africa Customs", AgencyKind.CUSTOMS, "ZA"),
    AgencySpec("ZA-POL", "South Africa Border Police", AgencyKind.POLICE, "ZA"),
    AgencySpec("ZA-CGD", "South Africa Maritime Coastguard", AgencyKind.COASTGUARD, "ZA"),
    AgencySpec("ZA-AIR", "South Africa Airports Authority", AgencyKind.AIRPORT_AUTHORITY, "ZA"),
    AgencySpec("ZA-PRT", "South Africa Ports Authority", AgencyKind.PORT_AUTHORITY, "ZA"),
    AgencySpec("ZA-HLT", "South Africa Port Health Services", AgencyKind.HEALTH, "ZA"),
    # The civil registration authority confirms whether a document was really issued
    # (the document fraud SOP); it is on call at the points where that check is run.
    AgencySpec("ZA-DHA", "South Africa Home Affairs — Civil Registration", AgencyKind.OTHER, "ZA"),
)

CROSSING_POINTS = (
    PointSpec(
        "WDH",
        "Hosea Kutako International Airport",
        CrossingPointKind.AIRPORT,
        ("NA",),
        "Africa/Windhoek",
        "-22.479900",
        "17.470900",
        ("NA-IMM", "NA-CUS", "NA-POL", "NA-AIR"),
    ),
    PointSpec(
        "WEN",
        "Wenela–Sesheke One Stop Border Post",
        CrossingPointKind.LAND,
        ("NA", "ZM"),
        "Africa/Windhoek",
        "-17.488900",
        "24.273600",
        ("NA-IMM", "NA-CUS", "NA-POL", "ZM-IMM", "ZM-CUS"),
    ),
    PointSpec(
        "WVB",
        "Port of Walvis Bay",
        CrossingPointKind.SEAPORT,
        ("NA",),
        "Africa/Windhoek",
        "-22.956000",
        "14.504000",
        ("NA-IMM", "NA-CUS", "NA-POL", "NA-CGD", "NA-PRT"),
    ),
    PointSpec(
        "JNB",
        "O. R. Tambo International Airport",
        CrossingPointKind.AIRPORT,
        ("ZA",),
        "Africa/Johannesburg",
        "-26.133700",
        "28.242000",
        ("ZA-IMM", "ZA-CUS", "ZA-POL", "ZA-AIR", "ZA-HLT", "ZA-DHA"),
    ),
    PointSpec(
        "BBR",
        "Beitbridge Border Post",
        CrossingPointKind.LAND,
        ("ZA",),
        "Africa/Johannesburg",
        "-22.216600",
        "29.986000",
        ("ZA-IMM", "ZA-CUS", "ZA-POL", "ZA-HLT", "ZA-DHA"),
    ),
    PointSpec(
        "DUR",
        "Port of Durban",
        CrossingPointKind.SEAPORT,
        ("ZA",),
        "Africa/Johannesburg",
        "-29.871000",
        "31.026000",
        ("ZA-IMM", "ZA-CUS", "ZA-POL", "ZA-CGD", "ZA-PRT", "ZA-HLT"),
    ),
)

ROLE_SUFFIX = {
    Role.DUTY_OFFICER: "duty",
    Role.COORDINATOR: "coord",
    Role.SENIOR_OFFICIAL: "senior",
    Role.ADMIN: "admin",
}

# Deterministic demo names, per country, one per (agency, role) in order.
FIRST_NAMES = {
    "NA": [
        "Ndapewa",
        "Tjiuee",
        "Helvi",
        "Johannes",
        "Selma",
        "Petrus",
        "Martha",
        "Immanuel",
        "Loide",
        "Frans",
        "Ester",
        "Nangula",
        "Gabriel",
        "Aina",
        "Tuhafeni",
        "Rauna",
        "Kaino",
        "Elago",
        "Hilma",
        "Simon",
        "Saara",
        "Matheus",
        "Josefina",
        "Andreas",
    ],
    "ZM": ["Mwila", "Chanda", "Bwalya", "Mutale", "Nchimunya", "Lubinda", "Mapalo", "Kondwani"],
    "ZA": [
        "Thandiwe",
        "Sipho",
        "Lerato",
        "Pieter",
        "Nomvula",
        "Themba",
        "Ayesha",
        "Johan",
        "Zanele",
        "Kagiso",
        "Naledi",
        "Bongani",
        "Priya",
        "Mandla",
        "Refilwe",
        "Willem",
        "Palesa",
        "Lungile",
        "Anele",
        "Tshepo",
        "Karabo",
        "Fatima",
        "Jabu",
        "Marietjie",
        "Sizwe",
        "Nandi",
        "Hennie",
        "Busisiwe",
        "Lindiwe",
        "Mpho",
        "Ruan",
        "Yusuf",
    ],
}
LAST_NAMES = {
    "NA": [
        "Amutenya",
        "Kandjii",
        "Nghipandulwa",
        "Shikongo",
        "Haufiku",
        "Iipumbu",
        "Garoëb",
        "Mbumba",
        "Nakale",
        "Shilongo",
        "Tjitemisa",
        "Van Wyk",
        "Kaulinge",
        "Nghifitikeko",
        "Uugwanga",
        "Hamutenya",
        "Ndeitunga",
        "Kapofi",
        "Mwilima",
        "Angula",
        "Shaanika",
        "Nekongo",
        "Kambonde",
        "Muremi",
    ],
    "ZM": ["Banda", "Phiri", "Mulenga", "Mwansa", "Zulu", "Sakala", "Tembo", "Lungu"],
    "ZA": [
        "Dlamini",
        "Nkosi",
        "Mokoena",
        "Van der Merwe",
        "Khumalo",
        "Ndlovu",
        "Patel",
        "Botha",
        "Mthembu",
        "Molefe",
        "Sithole",
        "Mahlangu",
        "Naidoo",
        "Zwane",
        "Mabaso",
        "Pretorius",
        "Radebe",
        "Cele",
        "Majola",
        "Maseko",
        "Letsoalo",
        "Moosa",
        "Shabalala",
        "Steyn",
        "Hadebe",
        "Mkhize",
        "Coetzee",
        "Ntuli",
        "Masilela",
        "Govender",
        "Du Plessis",
        "Mokgadi",
    ],
}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    agency: str
    role: str
    crossing_points: tuple[str, ...]


def demo_username(agency_code: str, role: str) -> str:
    return f"{agency_code.lower()}.{ROLE_SUFFIX[Role(role)]}"


def _reference_admin_group() -> Group:
    group, _ = Group.objects.get_or_create(name=REFERENCE_ADMIN_GROUP)
    wanted = Permission.objects.filter(
        content_type__app_label="agencies",
    ) | Permission.objects.filter(
        content_type__app_label="accounts",
        codename__in=["view_user", "change_user", "add_user"],
    )
    group.permissions.set(wanted)
    return group


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    agency: str
    role: str


def demo_users() -> list[DemoUser]:
    """One officer per agency and role, with deterministic names."""
    users: list[DemoUser] = []
    name_index = {code: 0 for code in COUNTRIES}
    for spec in AGENCIES:
        for role in ROLE_SUFFIX:
            i = name_index[spec.country]
            name_index[spec.country] += 1
            users.append(
                DemoUser(
                    username=demo_username(spec.code, role),
                    first_name=FIRST_NAMES[spec.country][i % len(FIRST_NAMES[spec.country])],
                    last_name=LAST_NAMES[spec.country][i % len(LAST_NAMES[spec.country])],
                    agency=spec.code,
                    role=role,
                )
            )
    return users


def _points_of_agency() -> dict[str, list[str]]:
    points: dict[str, list[str]] = {spec.code: [] for spec in AGENCIES}
    for pspec in CROSSING_POINTS:
        for agency_code in pspec.agencies:
            points[agency_code].append(pspec.code)
    return points


def _logins() -> list[DemoLogin]:
    points = _points_of_agency()
    return [
        DemoLogin(
            username=u.username,
            name=f"{u.first_name} {u.last_name}",
            agency=u.agency,
            role=u.role,
            crossing_points=tuple(points[u.agency]),
        )
        for u in demo_users()
    ]


@transaction.atomic
def seed_reference_data() -> list[DemoLogin]:
    """Converge countries, agencies, crossing points, deployments and demo users.

    An empty database is filled with bulk inserts (a few dozen queries, one
    password hash); otherwise every row is converged one by one. Both give the
    same rows. Returns the demo logins, in a stable order, for printing.
    """
    if not Country.objects.exists() and not Agency.objects.exists() and not User.objects.exists():
        _bulk_seed()
    else:
        _converge()
    return _logins()


def _bulk_seed() -> None:
    countries = Country.objects.bulk_create(
        [Country(code=code, name=name) for code, name in COUNTRIES.items()]
    )
    by_country = {c.code: c for c in countries}
    agencies = {
        a.code: a
        for a in Agency.objects.bulk_create(
            [
                Agency(code=s.code, name=s.name, kind=s.kind, country=by_country[s.country])
                for s in AGENCIES
            ]
        )
    }
    points = {
        p.code: p
        for p in CrossingPoint.objects.bulk_create(
            [
                CrossingPoint(
                    code=s.code,
                    name=s.name,
                    kind=s.kind,
                    timezone=s.timezone,
                    latitude=Decimal(s.latitude),
                    longitude=Decimal(s.longitude),
                )
                for s in CROSSING_POINTS
            ]
        )
    }
    CrossingPoint.countries.through.objects.bulk_create(
        [
            CrossingPoint.countries.through(crossingpoint=points[s.code], country=by_country[c])
            for s in CROSSING_POINTS
            for c in s.countries
        ]
    )
    Deployment.objects.bulk_create(
        [
            Deployment(agency=agencies[a], crossing_point=points[s.code])
            for s in CROSSING_POINTS
            for a in s.agencies
        ]
    )
    password = make_password(DEMO_PASSWORD)
    specs = demo_users()
    users = User.objects.bulk_create(
        [
            User(
                username=u.username,
                first_name=u.first_name,
                last_name=u.last_name,
                email=f"{u.username}@demo.border-hub.example",
                is_staff=u.role == Role.ADMIN,
                password=password,
            )
            for u in specs
        ]
    )
    admin_group = _reference_admin_group()
    User.groups.through.objects.bulk_create(
        [
            User.groups.through(user=user, group=admin_group)
            for user, spec in zip(users, specs, strict=True)
            if spec.role == Role.ADMIN
        ]
    )
    memberships = Membership.objects.bulk_create(
        [
            Membership(user=user, agency=agencies[spec.agency], role=spec.role)
            for user, spec in zip(users, specs, strict=True)
        ]
    )
    served = _points_of_agency()
    Membership.crossing_points.through.objects.bulk_create(
        [
            Membership.crossing_points.through(membership=m, crossingpoint=points[code])
            for m, spec in zip(memberships, specs, strict=True)
            for code in served[spec.agency]
        ]
    )


def _converge() -> None:
    countries = {
        code: Country.objects.update_or_create(code=code, defaults={"name": name})[0]
        for code, name in COUNTRIES.items()
    }
    agencies: dict[str, Agency] = {}
    for spec in AGENCIES:
        agencies[spec.code], _ = Agency.objects.update_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "kind": spec.kind,
                "country": countries[spec.country],
                "is_active": True,
            },
        )
    points_of_agency: dict[str, list[CrossingPoint]] = {code: [] for code in agencies}
    for pspec in CROSSING_POINTS:
        point, _ = CrossingPoint.objects.update_or_create(
            code=pspec.code,
            defaults={
                "name": pspec.name,
                "kind": pspec.kind,
                "timezone": pspec.timezone,
                "latitude": Decimal(pspec.latitude),
                "longitude": Decimal(pspec.longitude),
                "is_active": True,
            },
        )
        point.countries.set([countries[c] for c in pspec.countries])
        for agency_code in pspec.agencies:
            Deployment.objects.update_or_create(
                agency=agencies[agency_code], crossing_point=point, defaults={"is_active": True}
            )
            points_of_agency[agency_code].append(point)

    admin_group = _reference_admin_group()
    password: str | None = None
    for officer in demo_users():
        user, created = User.objects.get_or_create(
            username=officer.username,
            defaults={
                "first_name": officer.first_name,
                "last_name": officer.last_name,
                "email": f"{officer.username}@demo.border-hub.example",
                "is_staff": officer.role == Role.ADMIN,
            },
        )
        if created:
            password = password or make_password(DEMO_PASSWORD)
            user.password = password
            user.save(update_fields=["password"])
        if officer.role == Role.ADMIN:
            user.groups.add(admin_group)
        membership, _ = Membership.objects.update_or_create(
            user=user,
            agency=agencies[officer.agency],
            role=officer.role,
            defaults={"is_active": True},
        )
        membership.crossing_points.set(points_of_agency[officer.agency])
