"""Notices to operators: marking them read."""

from __future__ import annotations

from django.utils import timezone

from accounts.scoping import Jurisdiction, scope_queryset

from ..models import Notification

__all__ = ["notifications_mark_read"]


def notifications_mark_read(*, jurisdiction: Jurisdiction, ids: list[int] | None) -> int:
    """Mark the caller's unread notices read (``ids`` None: all of them); returns how many."""
    qs = scope_queryset(Notification.objects.filter(read_at__isnull=True), jurisdiction)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
