"""Roles and jurisdictions of users, API keys for other systems, the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.utils import timezone

from gis_core.models import Region

__all__ = ["ApiKey", "AuditEntry", "Membership", "Role"]


class Role(models.TextChoices):
    ADMIN = "admin", "管理员"
    OPERATOR = "operator", "指挥中心"
    FIELD_STAFF = "field_staff", "网格员"
    PLANNER = "planner", "文明办"
    AUDITOR = "auditor", "审计员"
    DEPARTMENT = "department", "处置部门"


class JurisdictionFields(models.Model):
    """A jurisdiction: the whole country, one region of any level, or a set of unit grids."""

    nationwide = models.BooleanField("全国", default=False)
    region = models.ForeignKey(
        Region, verbose_name="管辖区划", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    grid_codes = ArrayField(
        models.CharField(max_length=15), verbose_name="负责网格（网格员）", default=list, blank=True
    )

    class Meta:
        abstract = True


class Membership(JurisdictionFields):
    """A user's roles and jurisdiction (one per user)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    roles = ArrayField(
        models.CharField(max_length=16, choices=Role.choices), verbose_name="角色", default=list
    )

    class Meta:
        verbose_name = "角色与管辖范围"
        verbose_name_plural = "角色与管辖范围"

    def __str__(self) -> str:
        return f"{self.user} {','.join(self.roles)}"


class ApiKey(JurisdictionFields):
    """A key another system sends as ``Authorization: Bearer cg_<prefix>_<secret>``.

    Only a SHA-256 of the whole token is stored: the secret has 256 bits of
    entropy, so a slow password hash would add nothing but latency.
    """

    name = models.CharField("名称", max_length=100)
    prefix = models.CharField("前缀", max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = ArrayField(models.CharField(max_length=32), verbose_name="权限范围", default=list)
    expires_at = models.DateTimeField("过期时间", null=True, blank=True)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField("每分钟请求上限", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API 密钥"
        verbose_name_plural = "API 密钥"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name}（{self.prefix}）"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class AuditEntry(models.Model):
    """One write through the API or the admin. Append-only: a database trigger
    refuses UPDATE, DELETE and TRUNCATE on this table (migration 0002)."""

    at = models.DateTimeField("时间", default=timezone.now, db_index=True)
    actor = models.CharField("操作者", max_length=150, db_index=True)  # "user:alice" / "key:ab12cd34"
    actor_user_id = models.IntegerField(null=True, blank=True, db_index=True)  # no FK: outlives users
    ip = models.GenericIPAddressField("来源地址", null=True, blank=True)
    source = models.CharField("入口", max_length=16)  # api / admin
    path = models.CharField(max_length=300, blank=True)
    action = models.CharField("操作", max_length=16)  # create / update / delete
    object_type = models.CharField("对象类型", max_length=64, db_index=True)
    object_id = models.CharField("对象", max_length=64, db_index=True)
    region_code = models.CharField(max_length=15, blank=True, db_index=True)
    before = models.JSONField("修改前", null=True, blank=True)
    after = models.JSONField("修改后", null=True, blank=True)

    class Meta:
        verbose_name = "审计记录"
        verbose_name_plural = "审计记录"
        ordering = ["-at", "-id"]

    class Scope:
        region_field = "region_code"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_type}:{self.object_id}"
