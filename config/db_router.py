"""Map and statistics reads on a PostGIS read replica (deploy/, docs/DEPLOYMENT.md).

With ``DATABASE_REPLICA_URL`` set, the settings add a ``replica`` alias and this router.
A request reads from the replica only when all of these hold:

* it is a ``GET``/``HEAD`` on one of ``CIVGRID_REPLICA_PATHS`` (heatmaps, clusters,
  statistics: read-only endpoints whose answers may be a second or two behind — not vector
  tiles, cached by change stamps read from the primary; :class:`ReplicaReadsMiddleware` marks them), and
* the model belongs to one of :data:`REPLICA_APPS` — the map's data. Accounts, API keys,
  sessions, django-axes and jobs always come from the primary: a lagging replica must
  never log a user out, revive a revoked key or hide a job that was just created.

Writes always go to ``default`` (the primary) and migrations run only there. Raw SQL
that must follow the router uses ``connections[read_alias()]`` (or ``connections[qs.db]``
of a routed queryset, as ``gis_core.selectors.stats`` and ``density`` already do);
``django.db.connection`` is always the primary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

__all__ = ["REPLICA_APPS", "ReplicaReadsMiddleware", "ReplicaRouter", "read_alias", "replica_reads"]

REPLICA = "replica"
REPLICA_APPS = frozenset({"gis_core", "grids", "events", "civilization", "geocoding", "tiles"})

_on_replica: ContextVar[bool] = ContextVar("civgrid_replica_reads", default=False)


def _have_replica() -> bool:
    return REPLICA in connections.settings


@contextlib.contextmanager
def replica_reads() -> Iterator[None]:
    """Reads of the map's data inside this block go to the replica (if one is configured)."""
    token = _on_replica.set(True)
    try:
        yield
    finally:
        _on_replica.reset(token)


def read_alias() -> str:
    """The alias raw SQL of a read-only map selector should use now."""
    return REPLICA if _on_replica.get() and _have_replica() else DEFAULT_DB_ALIAS


class ReplicaRouter:
    def db_for_read(self, model, **hints) -> str | None:
        if model._meta.app_label in REPLICA_APPS and _on_replica.get() and _have_replica():
            return REPLICA
        return None  # the primary

    def db_for_write(self, model, **hints) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReplicaReadsMiddleware:
    """GET/HEAD requests on ``CIVGRID_REPLICA_PATHS`` run inside :func:`replica_reads`."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.prefixes = tuple(getattr(settings, "CIVGRID_REPLICA_PATHS", ()))

    def __call__(self, request):
        if request.method in ("GET", "HEAD") and request.path.startswith(self.prefixes):
            with replica_reads():
                return self.get_response(request)
        return self.get_response(request)
