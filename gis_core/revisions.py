"""In-process copies of database tables, rebuilt when a revision row changes.

A single-row table counts writes (``LocatorRevision``, ``GazetteerRevision``);
a process keeps what it built from the tables and rebuilds only when that row
changes. The counter alone is not enough: after a rolled-back change that this
process had already loaded, the next committed change brings the counter back
to the same number — so the row's ``xmin`` (the id of the transaction that
wrote it, never reused) is part of the revision.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connection, models

__all__ = ["RevisionCache", "revision_of"]

T = TypeVar("T")


def revision_of(model: type[models.Model]) -> tuple[int, str]:
    """(counter, xmin) of the model's single revision row (id 1)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT revision, xmin::text FROM {model._meta.db_table} WHERE id = 1")
        row = cur.fetchone()
    return (row[0], row[1]) if row else (0, "")


class RevisionCache(Generic[T]):
    """``get()`` returns ``build(revision)``, built once per revision of ``model``'s row."""

    def __init__(self, model: type[models.Model], build: Callable[[tuple[int, str]], T]) -> None:
        self._model = model
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None
        self._revision: tuple[int, str] | None = None

    def get(self) -> T:
        revision = revision_of(self._model)
        if self._revision != revision:
            with self._lock:
                if self._revision != revision:
                    self._value = self._build(revision)
                    self._revision = revision
        return self._value
