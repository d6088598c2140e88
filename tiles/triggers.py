"""Statement triggers that log, per statement, the boxes of the rows written to every
table a tile layer reads (``tiles_tilechange``; see :mod:`tiles.cache` for how they
invalidate cached tiles).

Installed for every registered layer after each ``migrate`` (idempotent:
``CREATE OR REPLACE TRIGGER``), so a layer declared later needs no migration.
Statement triggers with transition tables see bulk inserts, ``UPDATE … WHERE``,
raw SQL and the admin alike, at one row of log per ~5 km cell per statement.
"""

from __future__ import annotations

from django.db import connection, connections

__all__ = ["install_after_migrate", "install_triggers"]

_EVENTS = (
    ("ins", "INSERT", "REFERENCING NEW TABLE AS new_rows"),
    ("upd", "UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("del", "DELETE", "REFERENCING OLD TABLE AS old_rows"),
    ("trunc", "TRUNCATE", ""),
)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def install_triggers(tables: list[tuple[str, str | None]], using: str = "default") -> None:
    """Log writes to each (table, geometry column or None); a table read by several layers
    through different columns (a civilization unit's exact and public points) logs the boxes
    of each."""
    columns: dict[str, set[str]] = {}
    for table, column in tables:
        columns.setdefault(table, set()).add(column or "")
    with connections[using].cursor() as cur:
        for table, names in sorted(columns.items()):
            cols = [] if "" in names else sorted(names)  # "anywhere" covers every column
            arg = ", ".join("'" + c.replace("'", "''") + "'" for c in cols) or "''"
            for suffix, event, referencing in _EVENTS:
                if not cols and suffix != "trunc":
                    referencing = ""  # no geometry: every write is "anywhere", no rows needed
                cur.execute(
                    f"CREATE OR REPLACE TRIGGER tiles_change_{suffix} AFTER {event} ON {_quote(table)} "
                    f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION tiles_record_change({arg})"
                )


def install_after_migrate(sender=None, using: str = "default", **kwargs) -> None:
    from .registry import layers

    # live layers are written all the time and never cached: no log for them
    tables = [t for layer in layers() for v in layer.variants() if not v.live for t in v.tables()]
    existing = set(connections[using].introspection.table_names())
    install_triggers([t for t in tables if t[0] in existing], using)
