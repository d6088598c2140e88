"""One trigger keeps all three event cell tables, and each table's cell key is its primary key.

Until now each table had its own four statement triggers (0003, 0006, 0008): an insert of
50,000 events read the transition table three times, worked out every point's mercator
metres three times and ran three separate statements. Now one function per statement
computes each row's fine cell, coarse cell and month once (a materialised CTE) and
upserts the three tables from it in one statement; an update or delete deletes the
cells it emptied by their row address (returned by the upsert itself).

The surrogate ``id`` goes: every new cell row cost an index entry for it besides the
key's (and a sequence number), and nothing reads the cells by id. The key becomes the
primary key (Django's ``CompositePrimaryKey``); the tables are rewritten compactly in key
order. Two indexes every fresh report paid for and nothing reads become partial: the
foreign key index on ``events_event.department_id`` keeps the events that have a department
(a fresh report has none, and fresh reports are what bulk uploads write), and the
transitions' (action, at) index leaves out the reports (the statistics read the ends of
steps; a report's time is its event's ``reported_at``). Frozen here: a change is a new
migration."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

CELL_M = 305.748113140705  # 0003's CELL_M, as Python's repr (exact)
FINE_CELL_M = 38.21851414258813  # 0006's FINE_CELL_M (CELL_M / 8), as Python's repr (exact)
_X = "6378137.0 * radians(ST_X(geom))"
_Y = "6378137.0 * ln(tan(pi() / 4 + radians(LEAST(GREATEST(ST_Y(geom), -85.05112878), 85.05112878)) / 2))"
#: what the trigger works out once per event (r's columns), from the mercator metres x, y and the row
COLUMNS = {
    "fi": f"floor(x / {FINE_CELL_M})::int",
    "fj": f"floor(y / {FINE_CELL_M})::int",
    "ci": f"floor(x / {CELL_M})::int",
    "cj": f"floor(y / {CELL_M})::int",
    "grid_code": "grid_code",
    "region_code": "region_code",
    "state": "state",
    "month": "date_trunc('month', reported_at, 'Asia/Shanghai')",
}
BASE = ["i", "j", "grid_code", "region_code", "state"]
# table: (its key, the columns of r filling it)
TABLES = {
    "events_eventfinecell": (BASE, "fi, fj, grid_code, region_code, state"),
    "events_eventcell": ([*BASE, "reported_at"], "ci, cj, grid_code, region_code, state, month"),
    "events_eventcelltotal": (BASE, "ci, cj, grid_code, region_code, state"),
}
OLD_KEYS = {
    "events_eventfinecell": "event_fine_cell_key",
    "events_eventcell": "event_cell_key",
    "events_eventcelltotal": "event_cell_total_key",
}
OLD_TRIGGERS = {  # the triggers of 0003, 0006 and 0008, by prefix
    "events_cell": "events_eventcell_sync",
    "events_fine_cell": "events_eventfinecell_sync",
    "events_cell_total": "events_eventcelltotal_sync",
}
OPS = ("ins", "upd", "del", "trunc")


def _points(table: str, sign: int, columns: dict[str, str]) -> str:
    """Each event of ``table`` (a transition table) with its cells, periods and sign, once."""
    names = ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
    return f"""SELECT {names}, {sign} AS n, {sign} * x AS x, {sign} * y AS y
        FROM (SELECT {_X} AS x, {_Y} AS y, t.* FROM {table} t) p"""


def _upsert(table: str, spec: tuple, having: str = "", returning: str = "") -> str:
    keys, source = spec
    names = ", ".join(keys)
    return f"""INSERT INTO {table} AS c ({names}, n, sum_x, sum_y)
        SELECT {source}, sum(n), sum(x), sum(y) FROM r GROUP BY {source} {having} ORDER BY {source}
        ON CONFLICT ({names}) DO UPDATE
        SET n = c.n + excluded.n, sum_x = c.sum_x + excluded.sum_x, sum_y = c.sum_y + excluded.sum_y
        {returning}"""


def _changed(points: str, tables: dict) -> str:
    """The statement upserting every table from ``points`` and collecting the emptied cells."""
    having = "HAVING sum(n) <> 0 OR sum(x) <> 0 OR sum(y) <> 0"  # an update that nets out writes nothing
    ctes = ",\n        ".join(
        f"u{k} AS ({_upsert(t, spec, having, 'RETURNING c.ctid, c.n')})"
        for k, (t, spec) in enumerate(tables.items())
    )
    gone = ", ".join(f"(SELECT array_agg(ctid) FROM u{k} WHERE n = 0)" for k in range(len(tables)))
    into = ", ".join(f"gone{k}" for k in range(len(tables)))
    return f"WITH r AS MATERIALIZED ({points}),\n        {ctes}\n    SELECT {gone} INTO {into}"


def sync_function(tables: dict, columns: dict[str, str]) -> str:
    """The one trigger function keeping ``tables`` (name: (key, r's columns filling it))."""
    *first, (last, last_spec) = tables.items()
    insert = "WITH r AS MATERIALIZED ({}),\n        {}\n    {}".format(
        _points("new_rows", 1, columns),
        ",\n        ".join(f"u{k} AS ({_upsert(t, spec)})" for k, (t, spec) in enumerate(first)),
        _upsert(last, last_spec),
    )
    old, new = _points("old_rows", -1, columns), _points("new_rows", 1, columns)
    drop = " ".join(
        f"IF gone{k} IS NOT NULL THEN DELETE FROM {t} WHERE ctid = ANY(gone{k}); END IF;"
        for k, t in enumerate(tables)
    )
    return f"""
CREATE OR REPLACE FUNCTION events_cells_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    {" ".join(f"gone{k} tid[];" for k in range(len(tables)))}  -- the cells this statement emptied, per table
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE {", ".join(tables)};
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        {insert};
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        {_changed(old, tables)};
    ELSE
        {_changed(old + " UNION ALL " + new, tables)};
    END IF;
    {drop}
    RETURN NULL;
END $$;
"""


def adding(
    before: dict, before_columns: dict[str, str], new: dict, columns: dict[str, str]
) -> tuple[str, str]:
    """SQL letting the trigger keep the ``new`` tables too (created by the calling migration) and
    filling them from the events on record, each rewritten in key order with room for in-place
    updates; and the reverse (the trigger of ``before`` again)."""
    fill = "".join(
        f"""WITH r AS ({_points("events_event", 1, columns)}) {_upsert(t, spec)};
        ALTER TABLE {t} SET (fillfactor = 75);
        CLUSTER {t} USING {t}_pkey;
        """
        for t, spec in new.items()
    )
    return sync_function({**before, **new}, columns) + fill, sync_function(before, before_columns)


FORWARD = f"""
{"".join(f"DROP TRIGGER {prefix}_{op} ON events_event;" for prefix in OLD_TRIGGERS for op in OPS)}
{"".join(f"DROP FUNCTION {function}();" for function in OLD_TRIGGERS.values())}
{
    "".join(
        f'''
ALTER TABLE {t} DROP CONSTRAINT {OLD_KEYS[t]}, DROP COLUMN id, ADD CONSTRAINT {t}_pkey PRIMARY KEY ({", ".join(keys)});
CLUSTER {t} USING {t}_pkey;'''
        for t, (keys, _) in TABLES.items()
    )
}
{sync_function(TABLES, COLUMNS)}
CREATE TRIGGER events_cells_ins AFTER INSERT ON events_event REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION events_cells_sync();
CREATE TRIGGER events_cells_upd AFTER UPDATE ON events_event
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION events_cells_sync();
CREATE TRIGGER events_cells_del AFTER DELETE ON events_event REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION events_cells_sync();
CREATE TRIGGER events_cells_trunc AFTER TRUNCATE ON events_event
    FOR EACH STATEMENT EXECUTE FUNCTION events_cells_sync();
"""


def _reverse() -> str:
    """The three functions and their triggers as 0007 and 0008 left them, the ids back."""
    m7 = importlib.import_module("events.migrations.0007_cells_hot_updates")
    m8 = importlib.import_module("events.migrations.0008_event_cell_totals")
    functions = [m7._function(t).split("ALTER TABLE", 1)[0] for t in m7.TABLES]
    functions.append(m8.FORWARD.split("CREATE TRIGGER", 1)[0])
    triggers = "".join(
        f"""CREATE TRIGGER {prefix}_ins AFTER INSERT ON events_event REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {function}();
        CREATE TRIGGER {prefix}_upd AFTER UPDATE ON events_event
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {function}();
        CREATE TRIGGER {prefix}_del AFTER DELETE ON events_event REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {function}();
        CREATE TRIGGER {prefix}_trunc AFTER TRUNCATE ON events_event
            FOR EACH STATEMENT EXECUTE FUNCTION {function}();
        """
        for prefix, function in OLD_TRIGGERS.items()
    )
    tables = "".join(
        f"""ALTER TABLE {t} DROP CONSTRAINT {t}_pkey, ADD COLUMN id bigserial PRIMARY KEY,
            ADD CONSTRAINT {OLD_KEYS[t]} UNIQUE ({", ".join(keys)});"""
        for t, (keys, _) in TABLES.items()
    )
    drop = "".join(f"DROP TRIGGER events_cells_{op} ON events_event;" for op in OPS)
    return f"{drop} DROP FUNCTION events_cells_sync(); {tables} {''.join(functions)} {triggers}"


def _key(*fields: str) -> models.CompositePrimaryKey:
    return models.CompositePrimaryKey(*fields, blank=True, editable=False, primary_key=True, serialize=False)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0008_event_cell_totals"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, _reverse())],
            state_operations=[
                *(
                    migrations.RemoveConstraint(model_name=model, name=name)
                    for model, name in (
                        ("eventcell", "event_cell_key"),
                        ("eventcelltotal", "event_cell_total_key"),
                        ("eventfinecell", "event_fine_cell_key"),
                    )
                ),
                *(
                    migrations.RemoveField(model_name=m, name="id")
                    for m in ("eventcell", "eventcelltotal", "eventfinecell")
                ),
                migrations.AddField(
                    model_name="eventcell",
                    name="pk",
                    field=_key("i", "j", "grid_code", "region_code", "state", "reported_at"),
                ),
                migrations.AddField(
                    model_name="eventcelltotal",
                    name="pk",
                    field=_key("i", "j", "grid_code", "region_code", "state"),
                ),
                migrations.AddField(
                    model_name="eventfinecell",
                    name="pk",
                    field=_key("i", "j", "grid_code", "region_code", "state"),
                ),
            ],
        ),
        migrations.AlterField(
            model_name="event",
            name="department",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="events",
                to="events.department",
                verbose_name="处置部门",
            ),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                condition=models.Q(("department__isnull", False)),
                fields=["department"],
                name="event_department_idx",
            ),
        ),
        migrations.RemoveIndex(model_name="eventtransition", name="event_transition_action_idx"),
        migrations.AddIndex(
            model_name="eventtransition",
            index=models.Index(
                condition=~models.Q(action="report"),
                fields=["action", "at"],
                name="event_transition_step_idx",
            ),
        ),
    ]
