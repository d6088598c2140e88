"""Celery entry points of the events app (thin: they call the services)."""

from __future__ import annotations

import logging

from celery import shared_task

from .services.escalation import events_escalate

__all__ = ["escalate_overdue"]

logger = logging.getLogger(__name__)


@shared_task(name="events.escalate_overdue", ignore_result=True)
def escalate_overdue() -> dict:
    """The overdue sweep (scheduled in CELERY_BEAT_SCHEDULE); safe to run at any time, and twice."""
    result = events_escalate()
    if result.overdue or result.escalated:
        logger.info("events: %d newly overdue, %d escalated", result.overdue, result.escalated)
    return {"overdue": result.overdue, "escalated": result.escalated}
