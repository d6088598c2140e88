"""The beat task through a real Celery worker: ``celery -A config worker`` in a subprocess on
the test database and this run's own queue (test settings), as jobs/tests/test_restart.py
does. What the worker must see is committed, so ``db`` here does not wrap the test in a
transaction; the test restores what the sweep changed and deletes what it made.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from config.celery import app as celery_app
from events import flow
from events.models import Event, Notification
from events.services.reporting import ReportInput, event_report
from events.tasks import escalate_overdue

from .conftest import committing

CELERY = Path(sys.executable).with_name("celery")
TIMEOUT_S = 60


@pytest.fixture
def db(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Replaces pytest-django's ``db`` here: committed writes (see the module docstring)."""
    with committing(django_db_blocker):
        yield


@pytest.fixture
def worker(db, tmp_path) -> Iterator[Path]:
    """A worker consuming this run's queue; its log file."""
    queue = celery_app.conf.task_default_queue
    assert queue == settings.CELERY_TASK_DEFAULT_QUEUE and queue != "celery"  # never the demo's queue
    with celery_app.connection_for_write() as conn:
        conn.default_channel.client.delete(queue)
    user, host, name = (connection.settings_dict[k] for k in ("USER", "HOST", "NAME"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CIVGRID_TEST_DB": name,
        "DATABASE_URL": f"postgis://{user}@{quote(host, safe='')}/{name}",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "worker.log"
    cmd = [
        str(CELERY), "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "1",
        "--queues", queue, "--hostname", f"events-test-{os.getpid()}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for("the worker to be ready", lambda: b" ready." in log.read_bytes(), log)
        yield log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        with celery_app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue)


def _wait_for(what: str, predicate, log: Path, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def restored(db, seed_categories) -> Iterator[list[int]]:
    """The sweep also reaches overdue demo events: put their levels back, delete the notices
    the test run made, and the events it made (listed in the yielded list)."""
    made: list[int] = []
    last_notice = Notification.objects.aggregate(m=Max("id"))["m"] or 0
    levels = {
        pk: (level, at)
        for pk, level, at in Event.objects.filter(state__in=flow.OPEN_STATES).values_list(
            "pk", "escalation_level", "escalated_at"
        )
    }
    yield made
    Notification.objects.filter(pk__gt=last_notice).delete()
    Event.objects.filter(pk__in=made).delete()
    now = Event.objects.filter(pk__in=levels).values_list("pk", "escalation_level", "escalated_at")
    for pk, level, at in now:
        if (level, at) != levels[pk]:
            Event.objects.filter(pk=pk).update(escalation_level=levels[pk][0], escalated_at=levels[pk][1])


def test_the_beat_task_escalates_in_a_real_worker(worker, restored, root, a_place):
    reported = timezone.now() - dt.timedelta(days=5)
    point = (a_place.lon, a_place.lat)
    data = ReportInput(category="E0102", description="无人处理", point=point, reported_at=reported)
    event = event_report(principal=root, data=data).event
    restored.append(event.pk)
    assert event.escalate_at < timezone.now()

    escalate_overdue.delay()

    def escalated() -> bool:
        return Event.objects.filter(pk=event.pk, escalation_level=2).exists()

    _wait_for("the worker to escalate the event", escalated, worker)
    kinds = sorted(Notification.objects.filter(event=event).values_list("kind", flat=True))
    assert kinds == ["escalated", "overdue"]
    assert b"events.escalate_overdue" in worker.read_bytes()

    escalate_overdue.delay()  # again: nothing new for this event
    _wait_for(
        "the second run", lambda: worker.read_bytes().count(b"Task events.escalate_overdue") >= 4, worker
    )  # received + succeeded, twice
    assert Notification.objects.filter(event=event).count() == 2
