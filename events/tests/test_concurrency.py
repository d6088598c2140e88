"""Concurrent writes of the same event from two threads, each with its own database
connection: one transition wins and the other gets 409; a report re-sent twice at once
is one event.

What the threads see must be committed, so this module replaces pytest-django's ``db``
with one that does not wrap the test in a transaction (as jobs/tests/test_restart.py
does), and each test deletes the rows it made: ``transactional_db`` would flush every
table, which the append-only audit table refuses by design.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from events.models import Event, EventTransition
from events.services import lifecycle
from events.services.lifecycle import event_transition
from events.services.reporting import ReportInput, event_report
from gis_core.errors import Conflict

from .conftest import committing

CATEGORY = "E0102"  # 暴露垃圾, from the seed classification (committed)


@pytest.fixture
def db(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Replaces pytest-django's ``db`` here: committed writes (see the module docstring)."""
    with committing(django_db_blocker):
        yield


@pytest.fixture
def made(db, seed_categories) -> Iterator[list[int]]:
    """Ids of the events a test commits; deleted (with their transitions) afterwards."""
    ids: list[int] = []
    yield ids
    Event.objects.filter(pk__in=ids).delete()


@pytest.fixture
def slow_lock(monkeypatch):
    """Hold the row lock a while inside each transition, so the two surely overlap."""
    real = lifecycle.work_calendar

    def slow():
        time.sleep(0.3)
        return real()

    monkeypatch.setattr(lifecycle, "work_calendar", slow)


def together(*calls: Callable) -> list:
    """Run the calls at the same moment in threads, each on its own connection; results or exceptions."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait()
            return call()
        except Exception as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _report(root, place, made, client_id=None):
    data = ReportInput(
        category=CATEGORY, description="并发测试", point=(place.lon, place.lat), client_id=client_id
    )
    result = event_report(principal=root, data=data)
    made.append(result.event.pk)
    return result


def test_the_same_transition_twice_at_once(root, a_place, made, slow_lock):
    event = _report(root, a_place, made).event
    verify = lambda: event_transition(principal=root, event_id=event.pk, action="verify", note="核实")  # noqa: E731

    results = together(verify, verify)

    wins = [r for r in results if isinstance(r, Event)]
    losses = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].status == 409 and losses[0].details["state"] == "verified"
    assert losses[0].details["allowed"] == ["register", "invalidate", "return", "suspend", "merge"]
    assert Event.objects.get(pk=event.pk).state == "verified"
    assert EventTransition.objects.filter(event=event, action="verify").count() == 1


def test_two_different_transitions_at_once(root, a_place, made, slow_lock):
    event = _report(root, a_place, made).event
    event_transition(principal=root, event_id=event.pk, action="verify", note="核实")

    results = together(
        lambda: event_transition(principal=root, event_id=event.pk, action="register", note="立案"),
        lambda: event_transition(principal=root, event_id=event.pk, action="invalidate", note="作废"),
    )

    wins = [r for r in results if isinstance(r, Event)]
    assert len(wins) == 1 and isinstance(next(r for r in results if r not in wins), Conflict), results
    final = Event.objects.get(pk=event.pk)
    assert final.state == wins[0].state in ("registered", "invalid")
    actions = list(EventTransition.objects.filter(event=event).values_list("action", flat=True))
    assert sorted(actions) == sorted(
        ["report", "verify", "register" if final.state == "registered" else "invalidate"]
    )


def test_a_report_resent_twice_at_once_is_one_event(root, a_place, made):
    client_id = uuid.uuid4()
    results = together(*(lambda: _report(root, a_place, made, client_id) for _ in range(2)))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert {r.event.pk for r in results} == set(
        Event.objects.filter(client_id=client_id).values_list("pk", flat=True)
    )
    assert sorted(r.created for r in results) == [False, True]
    assert Event.objects.filter(client_id=client_id).count() == 1
