"""Reference data: countries, agencies, crossing points, deployments, memberships.

Invariants:
- codes are upper-case and stable; other records (incident refs, streams) embed them;
- a membership's crossing points are places where its agency is (actively)
  deployed. ``validate_membership_points`` is the one check: the M2M points
  exist only after the membership is saved, so forms call it with the submitted
  points (``hub.agencies.admin.MembershipForm``, used by the membership admin and
  the inline on the user page) and ``membership_set_points`` calls it before
  writing;
- nothing here is hard-deleted while referenced: foreign keys PROTECT.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{1,19}$", "Use 2-20 upper-case letters, digits or hyphens."
)
country_validator = RegexValidator(r"^[A-Z]{2}$", "Use the ISO 3166-1 alpha-2 code.")
crossing_code_validator = RegexValidator(
    r"^[A-Z]{3,6}$", "Use 3-6 upper-case letters (it prefixes incident references)."
)


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone.") from None


class Country(models.Model):
    code = models.CharField(max_length=2, primary_key=True, validators=[country_validator])
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class AgencyKind(models.TextChoices):
    IMMIGRATION = "immigration", "Immigration"
    CUSTOMS = "customs", "Customs"
    COASTGUARD = "coastguard", "Coastguard"
    AIRPORT_AUTHORITY = "airport_authority", "Airport authority"
    PORT_AUTHORITY = "port_authority", "Port authority"
    POLICE = "police", "Police"
    HEALTH = "health", "Port health"
    OTHER = "other", "Other partner"


class Agency(models.Model):
    code = models.CharField(max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=AgencyKind.choices)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="agencies")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class CrossingPointKind(models.TextChoices):
    AIRPORT = "airport", "Airport"
    LAND = "land", "Land border"
    SEAPORT = "seaport", "Seaport"


class CrossingPoint(models.Model):
    code = models.CharField(max_length=6, unique=True, validators=[crossing_code_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=CrossingPointKind.choices)
    countries = models.ManyToManyField(
        Country,
        related_name="crossing_points",
        help_text="One country, or two for a One Stop Border Post.",
    )
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))],
    )
    is_active = models.BooleanField(default=True)
    agencies: models.ManyToManyField[Agency, Deployment] = models.ManyToManyField(
        Agency, through="Deployment", related_name="crossing_points"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def is_one_stop_border_post(self) -> bool:
        return self.kind == CrossingPointKind.LAND and self.countries.count() > 1


class Deployment(models.Model):
    """An agency present at a crossing point."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="deployments")
    crossing_point = models.ForeignKey(
        CrossingPoint, on_delete=models.PROTECT, related_name="deployments"
    )
    is_active = models.BooleanField(default=True)
    notes = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["crossing_point__code", "agency__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "crossing_point"], name="deployment_unique_agency_point"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agency.code} @ {self.crossing_point.code}"


class Role(models.TextChoices):
    DUTY_OFFICER = "duty_officer", "Duty officer"
    COORDINATOR = "coordinator", "Coordinator"
    SENIOR_OFFICIAL = "senior_official", "Senior official"
    ADMIN = "admin", "Administrator"


def validate_membership_points(*, agency: Agency, crossing_points: Iterable[CrossingPoint]) -> None:
    """Raise ValidationError naming each point where ``agency`` has no active deployment."""
    points = list(crossing_points)
    deployed = set(
        Deployment.objects.filter(
            agency=agency, is_active=True, crossing_point__in=points
        ).values_list("crossing_point_id", flat=True)
    )
    missing = sorted(p.code for p in points if p.pk not in deployed)
    if missing:
        raise ValidationError(
            f"{agency.code} is not deployed at: {', '.join(missing)}.",
            code="agency_not_deployed",
        )


class Membership(models.Model):
    """A user's role in one agency, at the crossing points they serve.

    Its crossing points must be places where the agency is deployed: see
    ``validate_membership_points`` (forms and services call it; the M2M rows
    do not exist yet when ``clean()`` runs).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    crossing_points = models.ManyToManyField(CrossingPoint, related_name="memberships", blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username", "agency__code", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "agency", "role"], name="membership_unique_user_agency_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()}, {self.agency.code}"
