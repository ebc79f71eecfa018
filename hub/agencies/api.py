"""REST: who am I, agencies, crossing points."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest
from ninja import Router, Schema

from hub.agencies.selectors import access_for, agencies_list, crossing_points_list
from hub.auth import request_user
from hub.schemas import ERRORS_READ

router = Router(tags=["reference data"])


class GrantOut(Schema):
    agency: str
    agency_name: str
    agency_kind: str
    role: str
    crossing_points: list[str]


class MeOut(Schema):
    id: int
    username: str
    name: str
    memberships: list[GrantOut]


class AgencyOut(Schema):
    code: str
    name: str
    kind: str
    country: str


class DeploymentOut(Schema):
    agency: str
    kind: str


class CrossingPointOut(Schema):
    code: str
    name: str
    kind: str
    countries: list[str]
    timezone: str
    latitude: Decimal
    longitude: Decimal
    one_stop_border_post: bool
    agencies: list[DeploymentOut]


@router.get("/me", response={200: MeOut, **ERRORS_READ}, summary="The caller and their memberships")
def me(request: HttpRequest) -> MeOut:
    user = request_user(request)
    access = access_for(user)
    names = {a.code: a.name for a in agencies_list()}
    codes = {p.pk: p.code for p in crossing_points_list()}
    return MeOut(
        id=user.pk,
        username=user.username,
        name=user.display_name,
        memberships=[
            GrantOut(
                agency=g.agency_code,
                agency_name=names.get(g.agency_code, g.agency_code),
                agency_kind=g.agency_kind,
                role=g.role,
                crossing_points=sorted(codes[p] for p in g.crossing_point_ids if p in codes),
            )
            for g in access.grants
        ],
    )


@router.get("/agencies", response={200: list[AgencyOut], **ERRORS_READ}, summary="Agencies")
def agencies(request: HttpRequest) -> list[AgencyOut]:
    return [
        AgencyOut(code=a.code, name=a.name, kind=a.kind, country=a.country_id)
        for a in agencies_list()
    ]


@router.get(
    "/crossing-points",
    response={200: list[CrossingPointOut], **ERRORS_READ},
    summary="Crossing points and the agencies deployed there",
)
def crossing_points(request: HttpRequest) -> list[CrossingPointOut]:
    out = []
    for p in crossing_points_list():
        countries = sorted(c.code for c in p.countries.all())
        out.append(
            CrossingPointOut(
                code=p.code,
                name=p.name,
                kind=p.kind,
                countries=countries,
                timezone=p.timezone,
                latitude=p.latitude,
                longitude=p.longitude,
                one_stop_border_post=p.kind == "land" and len(countries) > 1,
                agencies=[
                    DeploymentOut(agency=d.agency.code, kind=d.agency.kind)
                    for d in p.deployments.all()
                ],
            )
        )
    return out
