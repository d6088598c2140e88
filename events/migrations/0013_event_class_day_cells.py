"""Event counts per wide cell, community, state, minor class, kind, source and day (Beijing
time) — ``events_eventclassdaycell`` —, kept by the one cells trigger (0009): the heatmap of a
category, a kind or a source under a time window to the minute (one category in the last 7 days)
sums its whole days here and reads only the points of the part-days at its edges, as the day
cells (0010) do for a window alone. Until now that combination read every point it selected
(546,810 at 10 M events: 0.76-1.34 s); the day leads the key, so a window is one range of it.

The trigger function is replaced by one keeping all six tables (0009's generator), and the
new table is filled from the events on record. Frozen here: a change is a new migration."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

_0011 = importlib.import_module("events.migrations.0011_event_class_cells")
_0009 = _0011._0009
NEW = {  # in the order of the primary key
    "events_eventclassdaycell": (
        ["reported_at", "category_id", "source", "state", "i", "j", "region_code", "kind"],
        "day, category_id, source, state, wi, wj, region_code, kind",
    ),
}
TABLES = {**_0011.TABLES, **NEW}
FORWARD, REVERSE = _0009.adding(_0011.TABLES, _0011.COLUMNS, NEW, _0011.COLUMNS)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0012_references_per_statement"),
    ]

    operations = [  # the table, then the trigger (reversed: the trigger first, then the table)
        migrations.CreateModel(
            name="EventClassDayCell",
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
                ("reported_at", models.DateTimeField(verbose_name="上报日")),
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
                "verbose_name": "事件分类逐日热力格",
                "verbose_name_plural": "事件分类逐日热力格",
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
