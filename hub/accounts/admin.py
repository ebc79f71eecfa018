"""Admin for users (with their memberships inline) and API tokens.

Both are reference data (``hub.agencies.permissions.can_manage_reference_data``).
Whatever ends or narrows someone's access here closes or re-checks their open
sockets on every worker: deactivation, membership edits, deleting a user,
deleting or revoking a token.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from hub.accounts.models import ApiToken, User
from hub.accounts.services import token_revoke
from hub.agencies.admin import MembershipForm, ReferenceDataAdmin, ReferenceDataInline
from hub.agencies.models import Membership
from hub.agencies.services import memberships_changed
from hub.events.control import access_changed


class MembershipInline(ReferenceDataInline[Membership, User]):
    model = Membership
    # The same form as the membership admin: the agency must be deployed at
    # every crossing point the membership serves.
    form = MembershipForm
    extra = 0
    autocomplete_fields = ["agency"]
    filter_horizontal = ["crossing_points"]
    fields = ["agency", "role", "crossing_points", "is_active"]


@admin.register(User)
class UserAdmin(ReferenceDataAdmin[User], DjangoUserAdmin[User]):
    list_display = ["username", "first_name", "last_name", "email", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "memberships__role", "memberships__agency"]
    search_fields = ["username", "first_name", "last_name", "email"]
    inlines = [MembershipInline]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Duty contact", {"fields": ("phone",)}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        # Reference-data administrators manage officers, not privileges: without
        # this, change_user would let them make themselves superusers.
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "is_staff", "groups", "user_permissions"]
        return readonly

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Membership inlines and is_active changes re-check the user's sockets.
        super().save_related(request, form, formsets, change)
        user = form.instance
        if not user.is_active:
            access_changed(user_id=user.pk, reason="user_deactivated", close_all=True)
        else:
            memberships_changed(user_ids=[user.pk])

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_id = obj.pk  # Django clears it on delete
        super().delete_model(request, obj)
        access_changed(user_id=user_id, reason="user_deleted", close_all=True)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        user_ids = sorted(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        for user_id in user_ids:
            access_changed(user_id=user_id, reason="user_deleted", close_all=True)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        qs = super().get_queryset(request)
        if not request.user.is_superuser:
            qs = qs.filter(is_superuser=False)
        return qs


@admin.register(ApiToken)
class ApiTokenAdmin(ReferenceDataAdmin[ApiToken]):
    list_display = [
        "prefix",
        "user",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "user__username", "name"]
    readonly_fields = [
        "prefix",
        "digest",
        "user",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are issued through POST /api/v1/auth/token

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset.select_related("user"):
            token_revoke(user=token.user, token_id=token.pk)

    # A deleted token authenticates nothing: close the sockets that rode on it.
    def delete_model(self, request: HttpRequest, obj: ApiToken) -> None:
        token_id, user_id = obj.pk, obj.user_id
        super().delete_model(request, obj)
        access_changed(user_id=user_id, reason="token_deleted", token_id=token_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = sorted(queryset.values_list("pk", "user_id"))
        super().delete_queryset(request, queryset)
        for token_id, user_id in tokens:
            access_changed(user_id=user_id, reason="token_deleted", token_id=token_id)
