"""The audit trail: every write through the API or the admin, with who, when,
from where, what object, and the values before and after.

A middleware remembers the current request in a context variable; model
signals (and ``gis_core.signals.rows_written`` for bulk writes) turn each
change made while a request is active into an ``AuditEntry``. Writes outside a
request (management commands, the demo generator) are not recorded here.
The table is append-only in the database itself (trigger, migration 0002).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from gis_core.signals import model_values, rows_written

__all__ = ["AuditContextMiddleware", "audit_changes", "connect_signals", "personal_fields", "redact_personal"]

REDACTED = "（个人信息，已隐去）"
#: model label → (fields holding personal data, which rows they are personal in); read by
#: ``redact_personal`` for audit readers without ``personal:read``
_PERSONAL: dict[str, tuple[frozenset[str], Callable[[dict], bool]]] = {}


def personal_fields(label: str, fields: Iterable[str], *, when: Callable[[dict], bool] | None = None) -> None:
    """Declare that ``fields`` of the model ``label`` (``app.model``) hold personal data — in
    every row, or in the rows whose recorded values satisfy ``when``."""
    _PERSONAL[label] = (frozenset(fields), when or (lambda values: True))


def redact_personal(label: str, values: dict | None) -> dict | None:
    """The recorded values with the personal fields hidden (for readers without ``personal:read``)."""
    spec = _PERSONAL.get(label)
    if spec is None or not values:
        return values
    fields, when = spec
    if not when(values):
        return values
    return {k: (REDACTED if k in fields and v not in (None, "") else v) for k, v in values.items()}


_request: contextvars.ContextVar = contextvars.ContextVar("civgrid_audit_request", default=None)


class AuditContextMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def _actor(request) -> tuple[str, int | None, str]:
    user = getattr(request, "user", None)
    key = getattr(user, "key", None)
    if key is not None:
        return f"key:{key.prefix}", None, "api"
    source = "admin" if request.path.startswith("/admin/") else "api"
    if user is not None and user.is_authenticated:
        return f"user:{user.get_username()}", user.pk, source
    return "anonymous", None, source


def audit_changes(
    model: type[models.Model], changes: list[tuple[str, str, dict | None, dict | None]]
) -> None:
    """Record changes ``(object_id, region_code, before, after)`` made in the current request."""
    request = _request.get()
    if request is None or not changes:
        return
    from .models import AuditEntry

    actor, user_id, source = _actor(request)
    ip = request.META.get("REMOTE_ADDR") or None
    label = model._meta.label_lower
    entries = []
    for object_id, region_code, before, after in changes:
        if before is not None and after is not None and before == after:
            continue
        action = "create" if before is None else "delete" if after is None else "update"
        entries.append(
            AuditEntry(
                actor=actor,
                actor_user_id=user_id,
                ip=ip,
                source=source,
                path=request.path[:300],
                action=action,
                object_type=label,
                object_id=str(object_id)[:64],
                region_code=region_code or "",
                before=before,
                after=after,
            )
        )
    AuditEntry.objects.bulk_create(entries, batch_size=1000)


def _object_id(obj: models.Model) -> str:
    """The natural key where there is one (region and grid codes), else the primary key."""
    return str(getattr(obj, "code", None) or obj.pk)


def _region_code(obj: models.Model) -> str:
    spec = getattr(type(obj), "Scope", None)
    for attr in ("grid_field", "region_field"):
        name = getattr(spec, attr, None)
        if name:
            return str(getattr(obj, name, "") or "")
    region = getattr(obj, "region", None)  # memberships and keys: their jurisdiction
    return getattr(region, "code", "") if region is not None else ""


def _audited(sender) -> bool:
    from .models import AuditEntry

    label = sender._meta.label_lower
    return sender is not AuditEntry and label in AUDITED


def _pre_save(sender, instance, raw=False, **kwargs):
    if raw or _request.get() is None or not _audited(sender) or instance.pk is None:
        return
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = model_values(old) if old is not None else None


def _post_save(sender, instance, created, raw=False, **kwargs):
    if raw or _request.get() is None or not _audited(sender):
        return
    before = None if created else getattr(instance, "_audit_before", None)
    audit_changes(sender, [(_object_id(instance), _region_code(instance), before, model_values(instance))])


def _post_delete(sender, instance, **kwargs):
    if _request.get() is None or not _audited(sender):
        return
    audit_changes(sender, [(_object_id(instance), _region_code(instance), model_values(instance), None)])


def _bulk(sender, changes, **kwargs):
    if _audited(sender):
        audit_changes(sender, changes)


AUDITED: set[str] = set()


def connect_signals() -> None:
    AUDITED.update(
        {
            "gis_core.region",
            "grids.unitgrid",
            "geocoding.street",
            "geocoding.place",
            "geocoding.doorplate",
            "geocoding.building",
            "geocoding.poi",
            "accounts.membership",
            "accounts.apikey",
            get_user_model()._meta.label_lower,
        }
    )
    pre_save.connect(_pre_save, dispatch_uid="civgrid-audit-pre")
    post_save.connect(_post_save, dispatch_uid="civgrid-audit-post")
    post_delete.connect(_post_delete, dispatch_uid="civgrid-audit-delete")
    rows_written.connect(_bulk, dispatch_uid="civgrid-audit-bulk")
