"""Celery entry points of the grids app (thin: they call the services)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from .services.partitions import positions_partitions_maintain

__all__ = ["positions_partitions"]

logger = logging.getLogger(__name__)


@shared_task(name="grids.positions_partitions", ignore_result=True)
def positions_partitions() -> dict:
    """Monthly position partitions ahead of time, old ones detached (CELERY_BEAT_SCHEDULE)."""
    result = positions_partitions_maintain(now=timezone.now())
    if result["created"] or result["detached"]:
        logger.info("positions partitions: created %s, detached %s", result["created"], result["detached"])
    return result
