"""Event counts per web-mercator cell of 0003's size, grid and state, over every month
(events_eventcelltotal), kept by statement triggers on events_event like the other cell
tables — inserts (COPY too), updates, deletes, truncate — in place as 0007 keeps them (no
index on the count, emptied cells deleted by id, fillfactor 75), and filled from the events
on record. Frozen here: a change is a new migration."""

from django.db import migrations, models

CELL_M = 305.748113140705  # 0003's CELL_M, as Python's repr (exact)
TABLE = "events_eventcelltotal"
_X = "6378137.0 * radians(ST_X(geom))"
_Y = "6378137.0 * ln(tan(pi() / 4 + radians(LEAST(GREATEST(ST_Y(geom), -85.05112878), 85.05112878)) / 2))"
KEYS = "i, j, grid_code, region_code, state"


def _rows(table: str, sign: int) -> str:
    return f"""SELECT floor({_X} / {CELL_M})::int AS i, floor({_Y} / {CELL_M})::int AS j,
        grid_code, region_code, state, {sign} AS n, {sign} * {_X} AS x, {sign} * {_Y} AS y FROM {table}"""


def _upsert(source: str, having: str = "") -> str:
    return f"""INSERT INTO {TABLE} AS c ({KEYS}, n, sum_x, sum_y)
        SELECT {KEYS}, sum(n), sum(x), sum(y) FROM ({source}) k GROUP BY {KEYS} {having} ORDER BY {KEYS}
        ON CONFLICT ({KEYS}) DO UPDATE
        SET n = c.n + excluded.n, sum_x = c.sum_x + excluded.sum_x, sum_y = c.sum_y + excluded.sum_y"""


_CHANGED = _upsert(
    _rows("old_rows", -1) + " UNION ALL " + _rows("new_rows", 1),
    "HAVING sum(n) <> 0 OR sum(x) <> 0 OR sum(y) <> 0",
)
FORWARD = f"""
CREATE FUNCTION {TABLE}_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied bigint[];  -- the cells this statement brought to zero
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE {TABLE};
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        {_upsert(_rows("new_rows", 1))};
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        WITH up AS ({_upsert(_rows("old_rows", -1))} RETURNING c.id, c.n)
        SELECT array_agg(id) INTO emptied FROM up WHERE n = 0;
    ELSE  -- an update that moves no event to another key nets out and writes nothing
        WITH up AS ({_CHANGED} RETURNING c.id, c.n)
        SELECT array_agg(id) INTO emptied FROM up WHERE n = 0;
    END IF;
    IF emptied IS NOT NULL THEN
        DELETE FROM {TABLE} WHERE id = ANY(emptied);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER events_cell_total_ins AFTER INSERT ON events_event REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_sync();
CREATE TRIGGER events_cell_total_upd AFTER UPDATE ON events_event
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_sync();
CREATE TRIGGER events_cell_total_del AFTER DELETE ON events_event REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_sync();
CREATE TRIGGER events_cell_total_trunc AFTER TRUNCATE ON events_event
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_sync();
ALTER TABLE {TABLE} SET (fillfactor = 75);
{_upsert(_rows("events_event", 1))};
"""
REVERSE = f"""
DROP TRIGGER events_cell_total_ins ON events_event;
DROP TRIGGER events_cell_total_upd ON events_event;
DROP TRIGGER events_cell_total_del ON events_event;
DROP TRIGGER events_cell_total_trunc ON events_event;
DROP FUNCTION {TABLE}_sync();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0007_cells_hot_updates"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventCellTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("i", models.IntegerField()),
                ("j", models.IntegerField()),
                ("grid_code", models.CharField(max_length=15, verbose_name="单元网格")),
                ("region_code", models.CharField(max_length=12, verbose_name="社区")),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("reported", "已上报"),
                            ("verified", "已核实"),
                            ("registered", "已立案"),
                            ("dispatched", "已派遣"),
                            ("handled", "已处置"),
                            ("checked", "已核查"),
                            ("closed", "已结案"),
                            ("suspended", "已挂起"),
                            ("invalid", "已作废"),
                            ("merged", "已合并"),
                        ],
                        max_length=16,
                        verbose_name="状态",
                    ),
                ),
                ("n", models.IntegerField(verbose_name="事件数")),
                ("sum_x", models.FloatField()),
                ("sum_y", models.FloatField()),
            ],
            options={
                "verbose_name": "事件热力格（不分月）",
                "verbose_name_plural": "事件热力格（不分月）",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("i", "j", "grid_code", "region_code", "state"), name="event_cell_total_key"
                    )
                ],
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
