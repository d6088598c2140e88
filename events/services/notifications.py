"""Notices to operators: marking them read, each reader for themselves."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.scoping import Jurisdiction, scope_queryset

from ..models import Notification, NotificationRead

__all__ = ["notifications_mark_read"]


def notifications_mark_read(*, jurisdiction: Jurisdiction, reader: str, ids: list[int] | None) -> int:
    """Mark the notices of the caller's regions read for ``reader`` (``ids`` None: all of them);
    returns how many were unread for them. Other readers' unread lists are untouched."""
    qs = scope_queryset(Notification.objects.exclude(reads__reader=reader), jurisdiction)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    now = timezone.now()
    with transaction.atomic():
        unread = list(qs.values_list("pk", flat=True))
        made = NotificationRead.objects.bulk_create(
            [NotificationRead(notification_id=pk, reader=reader, read_at=now) for pk in unread],
            ignore_conflicts=True,  # the same reader marking at once from two tabs
        )
    return len(made)
