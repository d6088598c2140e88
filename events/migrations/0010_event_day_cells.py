"""Event counts per wide cell (four coarse cells, 32 px at zoom 12: the bins of a city view),
community, state and day (Beijing time) — ``events_eventdaycell`` —, kept by the one cells
trigger (0009): a heatmap under a time window to the minute (the last 7 days) sums its whole
days here and reads only the points of the part-days at its edges. Community instead of unit
grid: a fresh batch of reports (one day) adds a few hundred rows, not one per report.

The trigger function is replaced by one keeping all four tables (0009's generator), and the
new table is filled from the events on record. Frozen here: a change is a new migration."""

import importlib

from django.db import migrations, models

_0009 = importlib.import_module("events.migrations.0009_cells_one_trigger")
WIDE_CELL_M = 1222.99245256282  # 0009's CELL_M * 4, as Python's repr (exact)
COLUMNS = {
    **_0009.COLUMNS,
    "wi": f"floor(x / {WIDE_CELL_M})::int",
    "wj": f"floor(y / {WIDE_CELL_M})::int",
    "day": "date_trunc('day', reported_at, 'Asia/Shanghai')",
}
NEW = {  # in the order of each primary key
    "events_eventdaycell": (
        ["reported_at", "i", "j", "region_code", "state"],
        "day, wi, wj, region_code, state",
    ),
}
TABLES = {**_0009.TABLES, **NEW}
FORWARD, REVERSE = _0009.adding(_0009.TABLES, _0009.COLUMNS, NEW, COLUMNS)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0009_cells_one_trigger"),
    ]

    operations = [  # the table, then the trigger (reversed: the trigger first, then the table)
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
        migrations.RunSQL(FORWARD, REVERSE),
    ]
