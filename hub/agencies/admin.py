"""Django admin for the reference data: list filters and search on every model."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from hub.agencies.models import Agency, Country, CrossingPoint, Deployment, Membership
from hub.agencies.services import deployment_changed, memberships_changed


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin[Country]):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class DeploymentInline(admin.TabularInline[Deployment, CrossingPoint]):
    model = Deployment
    extra = 0
    autocomplete_fields = ["agency"]


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin[Agency]):
    list_display = ["code", "name", "kind", "country", "is_active"]
    list_filter = ["kind", "country", "is_active"]
    search_fields = ["code", "name"]


@admin.register(CrossingPoint)
class CrossingPointAdmin(admin.ModelAdmin[CrossingPoint]):
    list_display = ["code", "name", "kind", "country_codes", "timezone", "is_active"]
    list_filter = ["kind", "countries", "is_active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["countries"]
    inlines = [DeploymentInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CrossingPoint]:
        return super().get_queryset(request).prefetch_related("countries")

    @admin.display(description="Countries")
    def country_codes(self, obj: CrossingPoint) -> str:
        return ", ".join(sorted(c.code for c in obj.countries.all()))


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin[Deployment]):
    list_display = ["crossing_point", "agency", "is_active"]
    list_filter = ["crossing_point", "agency__kind", "agency__country", "is_active"]
    search_fields = ["agency__code", "agency__name", "crossing_point__code", "crossing_point__name"]
    autocomplete_fields = ["agency", "crossing_point"]
    list_select_related = ["agency", "crossing_point"]

    def save_model(self, request: HttpRequest, obj: Deployment, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        deployment_changed(deployment=obj)


class MembershipForm(forms.ModelForm[Membership]):
    class Meta:
        model = Membership
        fields = ["user", "agency", "role", "crossing_points", "is_active"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        agency = cleaned.get("agency")
        points = cleaned.get("crossing_points")
        if agency is not None and points is not None:
            deployed = set(
                Deployment.objects.filter(agency=agency, is_active=True).values_list(
                    "crossing_point_id", flat=True
                )
            )
            missing = [p.code for p in points if p.pk not in deployed]
            if missing:
                raise forms.ValidationError(
                    f"{agency.code} is not deployed at: {', '.join(sorted(missing))}."
                )
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    form = MembershipForm
    list_display = ["user", "agency", "role", "points", "is_active"]
    list_filter = ["role", "agency", "crossing_points", "is_active"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "agency__code"]
    autocomplete_fields = ["user", "agency"]
    filter_horizontal = ["crossing_points"]
    list_select_related = ["user", "agency"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).prefetch_related("crossing_points")

    @admin.display(description="Crossing points")
    def points(self, obj: Membership) -> str:
        return ", ".join(sorted(p.code for p in obj.crossing_points.all()))

    # Any change to a membership re-checks that user's open sockets on every worker.
    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        memberships_changed(user_ids=[form.instance.user_id])

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        user_id = obj.user_id
        super().delete_model(request, obj)
        memberships_changed(user_ids=[user_id])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        user_ids = list(queryset.values_list("user_id", flat=True))
        super().delete_queryset(request, queryset)
        memberships_changed(user_ids=user_ids)
