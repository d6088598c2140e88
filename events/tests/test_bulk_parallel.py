"""The bulk writer outside a transaction (events/services/bulk.py): chunks written on two
connections at once, each whole, a merge whose original is in another chunk written after
it. These writes are committed (threads have connections of their own), so this module's
``db`` commits, as in test_concurrency, and the test deletes what it wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from events import flow
from events.models import Event, EventTransition
from events.services.bulk import BulkEvents, events_bulk_create
from grids.models import UnitGrid

from .conftest import committing

NOW = dt.datetime(2026, 10, 12, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def db(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Replaces pytest-django's ``db`` here: committed writes."""
    with committing(django_db_blocker):
        yield


def test_chunks_written_side_by_side_with_merges_across_chunks(db, seed_categories):
    """Outside a transaction, chunks go to two connections at once (committed: deleted after)."""
    grids = list(UnitGrid.objects.filter(code__startswith="5105").order_by("code")[:60])
    start, n = NOW - dt.timedelta(days=20), 600
    rows = []
    for i in range(n):
        p = grids[i % len(grids)].geom.point_on_surface
        at = start + dt.timedelta(minutes=10 * i)
        if i % 10 == 9:  # a duplicate: of a row in another chunk (155 back), or of the row before
            row = {"state": "merged", "duplicate_of": i - 155 if i >= 155 else i - 1,
                   "action_at": [at + dt.timedelta(minutes=30)]}  # fmt: skip
        else:
            state = "closed" if i % 2 else "dispatched"
            steps = len(flow.PATH_TO[state])
            row = {"state": state, "action_at": [at + dt.timedelta(hours=k + 1) for k in range(steps)]}
        rows.append({"lon": p.x, "lat": p.y, "category": "E0102", "reported_at": at, **row})
    result = None
    try:
        result = events_bulk_create(BulkEvents.from_rows(rows), chunk_size=100, workers=2, now=NOW)
        events = {e.pk: e for e in Event.objects.filter(pk__in=result.ids.tolist())}
        assert (
            len(events) == n
            and result.transitions == EventTransition.objects.filter(event_id__in=result.ids.tolist()).count()
        )
        for i, row in enumerate(rows):
            event = events[int(result.ids[i])]
            assert event.state == row["state"]
            assert event.duplicate_of_id == (
                result.ids[row["duplicate_of"]] if "duplicate_of" in row else None
            )
    finally:
        if result is not None:
            Event.objects.filter(pk__in=result.ids.tolist()).delete()
