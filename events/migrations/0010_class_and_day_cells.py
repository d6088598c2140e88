"""Two more tables of event counts kept by the one cells trigger (0009), for the heatmap
filters the grid-keyed cells do not keep, both per wide cell (four coarse cells, 32 px at
zoom 12: the bins of a city view) and community instead of unit grid:

* ``events_eventclasscell``: per state, minor class, kind and source (no month) — a
  category's, a kind's or a source's heatmap;
* ``events_eventdaycell``: per state and day (Beijing time) — a window to the minute (the
  last 7 days) sums its whole days and reads only the points of the part-days at its edges.

The trigger function is replaced by one keeping all five tables (0009's generator), and the
new tables are filled from the events on record. Frozen here: a change is a new migration."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

_0009 = importlib.import_module("events.migrations.0009_cells_one_trigger")
WIDE_CELL_M = 1222.99245256282  # 0009's CELL_M * 4, as Python's repr (exact)
COLUMNS = {
    **_0009.COLUMNS,
    "wi": f"floor(x / {WIDE_CELL_M})::int",
    "wj": f"floor(y / {WIDE_CELL_M})::int",
    "category_id": "category_id",
    "kind": "kind",
    "source": "source",
    "day": "date_trunc('day', reported_at, 'Asia/Shanghai')",
}
NEW = {  # in the order of each primary key
    "events_eventclasscell": (
        ["category_id", "source", "state", "i", "j", "region_code", "kind"],
        "category_id, source, state, wi, wj, region_code, kind",
    ),
    "events_eventdaycell": (
        ["reported_at", "i", "j", "region_code", "state"],
        "day, wi, wj, region_code, state",
    ),
}
TABLES = {**_0009.TABLES, **NEW}
FORWARD = _0009.sync_function(TABLES, COLUMNS) + "".join(
    f"""WITH r AS ({_0009._points("events_event", 1, COLUMNS)}) {_0009._upsert(t, spec)};
    ALTER TABLE {t} SET (fillfactor = 75);
    CLUSTER {t} USING {t}_pkey;
    """
    for t, spec in NEW.items()
)
REVERSE = _0009.sync_function(_0009.TABLES, _0009.COLUMNS)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0009_cells_one_trigger"),
    ]

    operations = [  # the tables, then the trigger (reversed: the trigger first, then the tables)
        migrations.CreateModel(
            name="EventDayCell",
            fields=[
                ("i", models.IntegerField()),
                ("j", models.IntegerField()),
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
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "reported_at",
                        "i",
                        "j",
                        "region_code",
                        "state",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("reported_at", models.DateTimeField(verbose_name="上报日")),
            ],
            options={
                "verbose_name": "事件逐日热力格",
                "verbose_name_plural": "事件逐日热力格",
            },
        ),
        migrations.CreateModel(
            name="EventClassCell",
            fields=[
                ("i", models.IntegerField()),
                ("j", models.IntegerField()),
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
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "category_id",
                        "source",
                        "state",
                        "i",
                        "j",
                        "region_code",
                        "kind",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("event", "事件"), ("component", "部件")], max_length=16, verbose_name="类型"
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("field", "网格员上报"),
                            ("hotline", "12345 热线"),
                            ("web", "网站/公众"),
                            ("system", "其他系统"),
                        ],
                        max_length=16,
                        verbose_name="来源",
                    ),
                ),
                (
                    "category",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="events.eventcategory",
                        verbose_name="小类",
                    ),
                ),
            ],
            options={
                "verbose_name": "事件分类热力格",
                "verbose_name_plural": "事件分类热力格",
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
