"""Admin for accounts. API keys are issued through the service (the token is
shown once, in a message); the audit trail is read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpResponseRedirect
from django.urls import reverse

from gis_core.errors import ApplicationError

from .models import ApiKey, AuditEntry, Membership
from .permissions import SCOPES
from .services import apikey_issue, apikey_revoke

User = get_user_model()


class MembershipInline(admin.StackedInline):
    model = Membership
    can_delete = False
    raw_id_fields = ["region"]
    verbose_name_plural = "角色与管辖范围"


admin.site.unregister(User)


@admin.register(User)
class CivgridUserAdmin(UserAdmin):
    inlines = [MembershipInline]


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=list(SCOPES.items()), widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = [
            "name",
            "scopes",
            "nationwide",
            "region",
            "grid_codes",
            "expires_at",
            "rate_limit_per_minute",
        ]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = [
        "prefix",
        "name",
        "scopes",
        "region",
        "nationwide",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["nationwide"]
    search_fields = ["prefix", "name"]
    raw_id_fields = ["region"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a key is issued or revoked, never edited

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        data = form.cleaned_data
        try:
            issued = apikey_issue(
                name=data["name"], scopes=data["scopes"], nationwide=data["nationwide"],
                region_code=data["region"].code if data["region"] else None, grid_codes=data["grid_codes"],
                expires_at=data["expires_at"], rate_limit_per_minute=data["rate_limit_per_minute"],
                created_by=request.user,
            )  # fmt: skip
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return
        obj.pk = issued.key.pk
        messages.warning(request, f"API 密钥（只显示这一次，请立即保存）：{issued.token}")

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:accounts_apikey_changelist"))

    @admin.action(description="吊销所选密钥")
    def revoke(self, request, queryset) -> None:
        for key in queryset:
            apikey_revoke(prefix=key.prefix)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "ip", "source", "action", "object_type", "object_id"]
    list_filter = ["action", "source", "object_type"]
    search_fields = ["actor", "object_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
