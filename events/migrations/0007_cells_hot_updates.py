"""The event cell tables updated in place (HOT): an insert of 50,000 events spent most of its
time rewriting every index entry of each cell it added to.

An update of a row can stay on its heap page without new index entries (a heap-only tuple)
only if no indexed column changes and the page has room. The partial indexes on ``n = 0``
(migrations 0003, 0006) made ``n`` an indexed column, so every count change wrote new
entries in all three indexes of the table; they go, and the triggers delete the cells an
update or delete emptied by their ids (returned by the upsert itself) instead of through
that index. ``fillfactor = 75`` leaves room on each page, and the tables are rewritten so
that the pages already there have it too. Frozen here: a change is a new migration."""

import importlib

from django.db import migrations

TABLES = {  # table: (the migration that made it, its key index)
    "events_eventcell": ("0003_event_cells", "event_cell_key"),
    "events_eventfinecell": ("0006_event_fine_cells", "event_fine_cell_key"),
}


def _made(table: str):
    return importlib.import_module(f"events.migrations.{TABLES[table][0]}")


def _old_function(table: str) -> str:
    """The trigger function as its migration created it (for the reverse)."""
    body = _made(table).FORWARD.split("CREATE TRIGGER", 1)[0]
    return body.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _function(table: str) -> str:
    m = _made(table)
    changed = m._upsert(
        m._rows("old_rows", -1) + " UNION ALL " + m._rows("new_rows", 1),
        "HAVING sum(n) <> 0 OR sum(x) <> 0 OR sum(y) <> 0",
    )
    return f"""
CREATE OR REPLACE FUNCTION {table}_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied bigint[];  -- the cells this statement brought to zero
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE {table};
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        {m._upsert(m._rows("new_rows", 1))};
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        WITH up AS ({m._upsert(m._rows("old_rows", -1))} RETURNING c.id, c.n)
        SELECT array_agg(id) INTO emptied FROM up WHERE n = 0;
    ELSE  -- an update that moves no event to another key nets out and writes nothing
        WITH up AS ({changed} RETURNING c.id, c.n)
        SELECT array_agg(id) INTO emptied FROM up WHERE n = 0;
    END IF;
    IF emptied IS NOT NULL THEN
        DELETE FROM {table} WHERE id = ANY(emptied);
    END IF;
    RETURN NULL;
END $$;
ALTER TABLE {table} SET (fillfactor = 75);
CLUSTER {table} USING {TABLES[table][1]};
"""


def _reverse(table: str) -> str:
    return f"{_old_function(table)}\nALTER TABLE {table} RESET (fillfactor);\n"


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_event_fine_cells"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="eventcell", name="event_cell_empty_idx"),
        migrations.RemoveIndex(model_name="eventfinecell", name="event_fine_cell_empty_idx"),
        *(migrations.RunSQL(_function(t), _reverse(t)) for t in TABLES),
    ]
