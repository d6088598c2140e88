"""The references of events and transitions, checked per statement by triggers (migration
0012) with a foreign key's rules: a missing key is refused on insert (``COPY`` too) and on
update, a referenced row cannot be deleted, re-keyed or truncated away, and a referencing
insert and a delete of its referenced row in two transactions at once cannot both succeed.

The first part runs in the test's transaction (its rows are "this transaction's", the seed
classification is committed: both paths of the insert check); the last part commits on
two real connections and deletes what it made."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from accounts.models import ApiKey
from events.models import Department, Event, EventCategory, EventTransition
from events.services.reporting import ReportInput, event_report

from .conftest import committing

_0012 = importlib.import_module("events.migrations.0012_references_per_statement")
MODELS = (Event, EventTransition)
COLUMNS = "event_id, from_state, to_state, action, actor, note, at"  # a transition's, written here
#: (referencing table, column, referenced table) of every foreign key of the two models
FIELDS = [
    (m._meta.db_table, f.column, f.related_model._meta.db_table)
    for m in MODELS
    for f in m._meta.concrete_fields
    if f.is_relation
]


def _ids(field_list) -> list[str]:
    return [f"{c}.{col}" for c, col, _ in field_list]


def test_the_triggers_cover_every_reference_and_no_foreign_key_is_left():
    assert sorted(FIELDS) == sorted(_0012.REFERENCES)
    assert all(not f.db_constraint for m in MODELS for f in m._meta.concrete_fields if f.is_relation)


@pytest.mark.django_db
def test_the_database_has_the_triggers_and_not_the_keys():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
            [[m._meta.db_table for m in MODELS]],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgname LIKE '%%\\_refs\\_%%' OR tgname LIKE '%%\\_held\\_%%'"
        )
        names = {r[0] for r in cursor.fetchall()}
    assert {f"{c}_refs_{op}" for c, _, _ in FIELDS for op in ("ins", "upd")} <= names
    assert {f"{p}_held_{op}" for _, _, p in FIELDS for op in ("del", "upd", "trunc")} <= names


@pytest.mark.django_db
def test_the_citus_conversion_drops_every_check_it_replaces_by_foreign_keys():
    import re
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "deploy" / "citus.sql").read_text()
    dropped = set(re.findall(r"DROP FUNCTION (\w+)\(\) CASCADE;", script))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgfoid::regproc::text FROM pg_trigger WHERE tgname ~ '_(refs|held)_(ins|upd|del|trunc)$'"
        )
        assert dropped == {r[0] for r in cursor.fetchall()}


# --- in the test's transaction ---------------------------------------------------------------


def _report(root, place) -> Event:
    data = ReportInput(category="E0102", description="引用测试", point=(place.lon, place.lat))
    return event_report(principal=root, data=data).event


def _copy_row(table: str, row_id: int, **values) -> int:
    """A copy of ``table``'s row ``row_id`` with ``values`` changed (a new id); its id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped AND attname <> 'id' ORDER BY attnum",
            [table],
        )
        columns = [r[0] for r in cursor.fetchall()]
        chosen = [f"%s AS {c}" if c in values else c for c in columns]
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(chosen)} FROM {table} "
            "WHERE id = %s RETURNING id",
            [*(values[c] for c in columns if c in values), row_id],
        )
        return cursor.fetchone()[0]


def _parent(table: str, root, place) -> int:
    """A new row of the referenced ``table`` nothing references yet."""
    tag = uuid.uuid4().hex[:10]
    if table == "events_eventcategory":
        major = EventCategory.objects.get(code="E01")
        return EventCategory.objects.create(code=f"X{tag[:6]}", name="引用", kind="event", parent=major).pk
    if table == "events_department":
        return Department.objects.create(name=f"引用测试局{tag}", region_code="510502000000").pk
    if table == "auth_user":
        return get_user_model().objects.create(username=f"ref-{tag}").pk
    if table == "accounts_apikey":
        return ApiKey.objects.create(name="引用", prefix=tag, key_hash="0" * 64).pk
    assert table == "events_event"
    return _copy_row("events_event", _report(root, place).pk)  # no transitions of its own


def _child(table: str, root, place) -> int:
    event = _report(root, place)
    if table == "events_event":
        return event.pk
    return EventTransition.objects.filter(event=event).get().pk


def _refused(call: Callable, name: str, key: int | str) -> None:
    """``call`` fails with a foreign key violation of ``name`` for ``key`` (Django wraps it
    as ``IntegrityError``, except around ``COPY``)."""
    with pytest.raises((IntegrityError, psycopg.errors.ForeignKeyViolation)) as caught, transaction.atomic():
        call()
    error = caught.value.__cause__ if isinstance(caught.value, IntegrityError) else caught.value
    assert error.sqlstate == "23503" and error.diag.constraint_name == name
    assert f"=({key})" in error.diag.message_detail


def _missing_key(parent: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1000 FROM {parent}")
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("child", "column", "parent"), FIELDS, ids=_ids(FIELDS))
def test_a_missing_key_is_refused_on_insert_and_update(seed_categories, root, a_place, child, column, parent):
    row = _child(child, root, a_place)
    name, missing = f"{child}_{column}_ref", _missing_key(parent)

    _refused(lambda: _copy_row(child, row, **{column: missing}), name, missing)
    _refused(lambda: _update(child, row, column, missing), name, missing)

    # a key that is there passes both ways (this transaction's row, and a committed one)
    present = _parent(parent, root, a_place)
    assert _update(child, _copy_row(child, row, **{column: present}), column, present) == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id) FROM {parent}")  # another row: the oldest
        (old,) = cursor.fetchone()
    assert _update(child, row, column, old) == 1


def _update(table: str, row: int, column: str, value) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, row])
        return cursor.rowcount


def test_a_copy_with_a_missing_event_is_refused(seed_categories, root, a_place):
    transition = EventTransition.objects.filter(event=_report(root, a_place)).get()
    missing = _missing_key("events_event")

    def copy():
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY events_eventtransition ({COLUMNS}) FROM STDIN") as copy,
        ):
            for event_id in (transition.event_id, missing, transition.event_id):
                copy.write_row((event_id, "", "reported", "report", "system:test", "批量", transition.at))

    _refused(copy, "events_eventtransition_event_id_ref", missing)
    assert EventTransition.objects.filter(event_id=transition.event_id).count() == 1  # nothing half-written


@pytest.mark.parametrize(("child", "column", "parent"), FIELDS, ids=_ids(FIELDS))
def test_a_referenced_row_cannot_be_deleted_rekeyed_or_truncated(
    seed_categories, root, a_place, child, column, parent
):
    key = _parent(parent, root, a_place)
    _copy_row(child, _child(child, root, a_place), **{column: key})
    name = f"{child}_{column}_ref"

    def run(sql: str, *args) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)

    _refused(lambda: run(f"DELETE FROM {parent} WHERE id = %s", key), name, key)
    _refused(lambda: run(f"UPDATE {parent} SET id = -id WHERE id = %s", key), name, key)
    # CASCADE takes the tables with foreign keys of their own to the parent along, not the
    # ones checked here
    run("SET CONSTRAINTS ALL IMMEDIATE")  # a TRUNCATE wants no deferred checks pending
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        run(f"TRUNCATE {parent} CASCADE")
    assert caught.value.__cause__.diag.constraint_name in {
        f"{c}_{col}_ref" for c, col, p in FIELDS if p == parent
    }

    # an unreferenced row can go, and the referenced one once its reference is gone
    run(f"DELETE FROM {parent} WHERE id = %s", _parent(parent, root, a_place))
    run(f"DELETE FROM {child} WHERE {column} = %s", key)
    run(f"DELETE FROM {parent} WHERE id = %s", key)


def test_events_and_their_transitions_truncated_together(seed_categories, root, a_place):
    _report(root, a_place)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_event, events_eventtransition CASCADE")
        cursor.execute("SELECT count(*) FROM events_eventtransition")
        assert cursor.fetchone()[0] == 0


# --- two connections, committed ----------------------------------------------------------------


@pytest.fixture
def committed(django_db_setup, django_db_blocker, seed_categories) -> Iterator[dict]:
    """A committed department and event (with its report transition); deleted afterwards."""
    with committing(django_db_blocker):
        department = Department.objects.create(
            name=f"并发引用局{uuid.uuid4().hex[:8]}", region_code="510502000000"
        )
        grid_place = _grid_place()
        event = event_report(
            principal=_root(), data=ReportInput(category="E0102", description="并发引用", point=grid_place)
        ).event
        made = {"department": department.pk, "event": event.pk, "transition": event.transitions.get().pk}
        try:
            yield made
        finally:
            EventTransition.objects.filter(department_id=department.pk).delete()
            Event.objects.filter(pk=event.pk).delete()
            Department.objects.filter(pk=department.pk).delete()


def _grid_place() -> tuple[float, float]:
    from .conftest import _grid_point

    p = _grid_point("510502")
    return (p.lon, p.lat)


def _root():
    from .conftest import principal

    return principal(None, region=None)


def _connect(**kwargs) -> psycopg.Connection:
    return psycopg.connect(**connection.get_connection_params(), **kwargs)


def _insert_referencing(conn: psycopg.Connection, made: dict) -> None:
    conn.execute(
        f"INSERT INTO events_eventtransition ({COLUMNS}, department_id) "
        f"SELECT {COLUMNS}, %s FROM events_eventtransition WHERE id = %s",
        [made["department"], made["transition"]],
    )


def _in_thread(call: Callable) -> tuple[threading.Thread, list]:
    out: list = []

    def run():
        try:
            out.append(call())
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_delete_waits_for_the_referencing_insert_then_fails(committed):
    inserter, deleter = _connect(), _connect(autocommit=True)
    try:
        _insert_referencing(inserter, committed)  # holds FOR KEY SHARE on the department
        thread, out = _in_thread(
            lambda: deleter.execute("DELETE FROM events_department WHERE id = %s", [committed["department"]])
        )
        time.sleep(0.5)
        assert thread.is_alive()  # waiting for the inserter's lock
        inserter.commit()
        thread.join(10)
        assert isinstance(out[0], psycopg.errors.ForeignKeyViolation), out
        assert out[0].diag.constraint_name == "events_eventtransition_department_id_ref"
    finally:
        inserter.close()
        deleter.close()


def test_an_insert_waits_for_the_delete_of_its_key_then_fails(committed):
    inserter, deleter = _connect(), _connect()
    try:
        deleter.execute("DELETE FROM events_department WHERE id = %s", [committed["department"]])
        thread, out = _in_thread(lambda: _insert_referencing(inserter, committed))
        time.sleep(0.5)
        assert thread.is_alive()  # waiting for the deleter's row lock
        deleter.commit()
        thread.join(10)
        assert isinstance(out[0], psycopg.errors.ForeignKeyViolation), out
        assert f"=({committed['department']})" in out[0].diag.message_detail
        inserter.rollback()
        assert not EventTransition.objects.filter(department_id=committed["department"]).exists()
    finally:
        inserter.close()
        deleter.close()


def test_the_insert_and_delete_both_go_through_when_apart(committed):
    """The control for the two above: without the other transaction, each succeeds."""
    with _connect() as conn:
        _insert_referencing(conn, committed)
        conn.rollback()
        conn.execute("DELETE FROM events_department WHERE id = %s", [committed["department"]])
        conn.rollback()


def test_deleting_a_referenced_kind_of_row_at_repeatable_read_is_refused(committed):
    with _connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="REPEATABLE READ"):
            conn.execute("DELETE FROM events_department WHERE id = %s", [committed["department"]])
        conn.rollback()
        conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
        conn.execute("DELETE FROM events_department WHERE id = %s", [committed["department"]])
        conn.rollback()
