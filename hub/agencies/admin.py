"""Django admin for the reference data: list filters and search on every model.

Who may use these pages is ``hub.agencies.permissions.can_manage_reference_data``
(superusers, and staff with an administrator membership), ANDed with Django's
model permissions. Every save or delete that can change what someone may see
calls the matching ``hub.agencies.services.*_changed`` function, which tells
every worker to re-check the affected users' sockets after commit.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from hub.accounts.models import User
from hub.agencies.models import (
    Agency,
    Country,
    CrossingPoint,
    Deployment,
    Membership,
    validate_membership_points,
)
from hub.agencies.permissions import can_manage_reference_data
from hub.agencies.selectors import access_for
from hub.agencies.services import (
    agency_activation_changed,
    crossing_point_activation_changed,
    deployments_changed,
    memberships_changed,
)

_ModelT = TypeVar("_ModelT", bound=Model)
_ParentT = TypeVar("_ParentT", bound=Model)

_DECISION_ATTRIBUTE = "_hub_manages_reference_data"


def manages_reference_data(request: HttpRequest) -> bool:
    """The reference-data rule for ``request.user`` (decided once per request)."""
    cached: bool | None = getattr(request, _DECISION_ATTRIBUTE, None)
    if cached is None:
        user = request.user
        cached = isinstance(user, User) and bool(can_manage_reference_data(user, access_for(user)))
        setattr(request, _DECISION_ATTRIBUTE, cached)
    return cached


class ReferenceDataAdmin(admin.ModelAdmin[_ModelT]):
    """A model admin for reference data: model permissions AND the reference-data rule."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return manages_reference_data(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return manages_reference_data(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return manages_reference_data(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return manages_reference_data(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return manages_reference_data(request) and super().has_delete_permission(request, obj)


class ReferenceDataInline(admin.TabularInline[_ModelT, _ParentT]):
    """An inline of reference data: model permissions AND the reference-data rule."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return manages_reference_data(request) and super().has_view_permission(request, obj)

    # Inlines take the parent object here; the stubs type the ModelAdmin signature too.
    def has_add_permission(self, request: HttpRequest, obj: Any) -> bool:  # type: ignore[override]
        return manages_reference_data(request) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return manages_reference_data(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return manages_reference_data(request) and super().has_delete_permission(request, obj)


@admin.register(Country)
class CountryAdmin(ReferenceDataAdmin[Country]):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class DeploymentInline(ReferenceDataInline[Deployment, CrossingPoint]):
    model = Deployment
    extra = 0
    autocomplete_fields = ["agency"]


@admin.register(Agency)
class AgencyAdmin(ReferenceDataAdmin[Agency]):
    list_display = ["code", "name", "kind", "country", "is_active"]
    list_filter = ["kind", "country", "is_active"]
    search_fields = ["code", "name"]

    def save_model(self, request: HttpRequest, obj: Agency, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            agency_activation_changed(agency=obj)


@admin.register(CrossingPoint)
class CrossingPointAdmin(ReferenceDataAdmin[CrossingPoint]):
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

    def save_model(self, request: HttpRequest, obj: CrossingPoint, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            crossing_point_activation_changed(crossing_point=obj)

    def save_formset(
        self,
        request: HttpRequest,
        form: Any,
        formset: BaseInlineFormSet[Any, Any, Any],
        change: bool,
    ) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is Deployment:
            touched = [
                *formset.new_objects,
                *(obj for obj, _fields in formset.changed_objects),
                *formset.deleted_objects,
            ]
            if touched:
                deployments_changed(deployments=touched)


@admin.register(Deployment)
class DeploymentAdmin(ReferenceDataAdmin[Deployment]):
    list_display = ["crossing_point", "agency", "is_active"]
    list_filter = ["crossing_point", "agency__kind", "agency__country", "is_active"]
    search_fields = ["agency__code", "agency__name", "crossing_point__code", "crossing_point__name"]
    autocomplete_fields = ["agency", "crossing_point"]
    list_select_related = ["agency", "crossing_point"]

    def save_model(self, request: HttpRequest, obj: Deployment, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        deployments_changed(deployments=[obj])

    def delete_model(self, request: HttpRequest, obj: Deployment) -> None:
        super().delete_model(request, obj)
        deployments_changed(deployments=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        deleted = list(queryset)
        super().delete_queryset(request, queryset)
        deployments_changed(deployments=deleted)


class MembershipForm(forms.ModelForm[Membership]):
    """Used by the membership admin and by the inline on the user page."""

    class Meta:
        model = Membership
        fields = ["user", "agency", "role", "crossing_points", "is_active"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        agency = cleaned.get("agency")
        points = cleaned.get("crossing_points")
        if agency is not None and points is not None:
            try:
                validate_membership_points(agency=agency, crossing_points=points)
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages, code="agency_not_deployed") from None
        return cleaned


@admin.register(Membership)
class MembershipAdmin(ReferenceDataAdmin[Membership]):
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
        user_ids = [form.instance.user_id]
        if change and "user" in form.changed_data and form.initial.get("user"):
            user_ids.append(form.initial["user"])  # moved to another user: the old one loses it
        memberships_changed(user_ids=user_ids)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        user_id = obj.user_id
        super().delete_model(request, obj)
        memberships_changed(user_ids=[user_id])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        user_ids = list(queryset.values_list("user_id", flat=True))
        super().delete_queryset(request, queryset)
        memberships_changed(user_ids=user_ids)
