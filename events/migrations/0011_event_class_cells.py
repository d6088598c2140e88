"""Event counts per wide cell (0010's), community, state, minor class, kind and source, no
month — ``events_eventclasscell`` —, kept by the one cells trigger (0009): the command
center's heatmap, aggregated tiles and clusters of a category, a kind or a source sum these
instead of reading the millions of points they select at 10 M events. The class leads the
primary key (one category's cells are one range of it); kind follows the class, so it adds
no rows. Costs the fresh-report bulk insert about a tenth at 10 M (BENCHMARKS.md, "Events").

The trigger function is replaced by one keeping all five tables (0009's generator), and the
new table is filled from the events on record. Frozen here: a change is a new migration."""

import importlib

import django.db.models.deletion
from django.db import migrations, models


_0010 = importlib.import_module("events.migrations.0010_event_day_cells")
_0009 = _0010._0009
COLUMNS = {**_0010.COLUMNS, "category_id": "category_id", "kind": "kind", "source": "source"}
NEW = {  # in the order of the primary key
    "events_eventclasscell": (
        ["category_id", "source", "state", "i", "j", "region_code", "kind"],
        "category_id, source, state, wi, wj, region_code, kind",
    ),
}
TABLES = {**_0010.TABLES, **NEW}
FORWARD, REVERSE = _0009.adding(_0010.TABLES, _0010.COLUMNS, NEW, COLUMNS)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0010_event_day_cells"),
    ]

    operations = [  # the table, then the trigger (reversed: the trigger first, then the table)
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
