"""Celery entry points of the tiles app (thin)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import TileChange

__all__ = ["prune_changes"]


@shared_task(name="tiles.prune_changes", ignore_result=True)
def prune_changes() -> int:
    """Forget tile changes older than any cached tile can be (see tiles.cache)."""
    cutoff = timezone.now() - dt.timedelta(seconds=settings.CIVGRID["TILE_CACHE_TTL_S"] + 60)
    # one statement: the ORM delete would load every row for the audit signals
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {TileChange._meta.db_table} WHERE at < %s", [cutoff])
        return cur.rowcount
