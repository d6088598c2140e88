"""Large loads with the bulk writer (events/services/bulk.py): rows written along a Hilbert
curve in chunks that never share a heatmap cell, and the load mode that drops the
secondary indexes of events and transitions for the load and rebuilds them after it,
failed or not (their references are checked per statement throughout: migration 0012)."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import IntegrityError, connection, transaction

from events.models import Event, EventTransition
from events.services.bulk import _chunks, _plan, _spatial_order, events_bulk_create, events_load_mode

from .test_bulk import NOW, _rows, points  # noqa: F401  (points: the fixture)


def _schema() -> tuple[list, list, list]:
    tables = [Event._meta.db_table, EventTransition._meta.db_table]
    with connection.cursor() as cur:
        # what an index is, not how PostgreSQL prints it: a partial index's predicate re-parsed from
        # pg_get_indexdef prints with other (equivalent) casts than the one the migration made
        cur.execute(
            "SELECT i.indexrelid::regclass::text, "
            "CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || am.amname || ' ' || i.indkey::text "
            "|| CASE WHEN i.indpred IS NULL THEN '' ELSE ' partial' END "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
            "WHERE i.indrelid = ANY(%s::regclass[]) ORDER BY 1",
            [tables],
        )
        indexes = cur.fetchall()
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid), condeferrable, condeferred FROM pg_constraint "
            "WHERE conrelid = ANY(%s::regclass[]) ORDER BY 1",
            [tables],
        )
        constraints = cur.fetchall()
        cur.execute(
            "SELECT tgname, tgenabled FROM pg_trigger "
            "WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal ORDER BY 1",
            [tables],
        )
        return indexes, constraints, cur.fetchall()


def test_chunks_follow_the_curve_and_never_share_a_cell(seed_categories, points):  # noqa: F811
    lon, lat = points
    n = len(lon)
    rows = _rows(lon, lat, ["closed"] * n)
    plan = _plan(rows, now=NOW, actor="system:test", note="测试")
    order, cell = _spatial_order(lon, lat)
    chunks, late = _chunks(plan, order, cell, 300)
    assert len(chunks) > 3 and not len(late)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(n))
    owners = {}
    for k, sel in enumerate(chunks):
        for c in set(cell[sel].tolist()):
            assert owners.setdefault(c, k) == k  # a cell's rows are all in one chunk
    # along the curve, neighbours in the order are neighbours on the map
    shuffle = np.random.default_rng(1).permutation(n)
    step = np.hypot(np.diff(lon[order]), np.diff(lat[order]))
    at_random = np.hypot(np.diff(lon[shuffle]), np.diff(lat[shuffle]))
    assert np.median(step) < np.median(at_random) / 5


def test_load_mode_rebuilds_indexes_and_keeps_checking_references(seed_categories, points):  # noqa: F811
    before = _schema()
    lon, lat = points
    with events_load_mode():
        indexes, constraints, triggers = _schema()
        assert len(indexes) < len(before[0]) and (constraints, triggers) == before[1:]
        assert all("UNIQUE" in ddl or "pkey" in name for name, ddl in indexes)
        assert {"events_event_refs_ins", "events_eventtransition_refs_ins"} <= {name for name, _ in triggers}
        result = events_bulk_create(_rows(lon[:500], lat[:500], ["closed"] * 500), now=NOW)
        missing = int(result.ids.max()) + 1000
        with (
            pytest.raises(IntegrityError, match="events_eventtransition_event_id_ref"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "INSERT INTO events_eventtransition (event_id, from_state, to_state, action, actor, note, at)"
                " VALUES (%s, '', 'reported', 'report', 'test', '', now())",
                [missing],
            )
    assert _schema() == before
    assert EventTransition.objects.filter(event_id__in=result.ids.tolist()).count() == result.transitions
    with pytest.raises(RuntimeError), events_load_mode():
        raise RuntimeError("the load failed")
    assert _schema() == before
