"""Grid staff, their grids, departments bound to grids (网格入格), and the positions table.

``grids_position`` is natively partitioned by time (RANGE on ``recorded_at``), which Django
cannot create: it is made here in SQL, with a default partition for stragglers. Monthly
partitions are created ahead of time by ``grids.services.partitions`` (beat task and the
``tracks_partitions`` command) and by the ingest itself when a month is missing.
"""

import django.contrib.gis.db.models.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

POSITIONS_SQL = """
CREATE TABLE grids_position (
    staff_id bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    accuracy_m double precision NULL,
    cum_m double precision NOT NULL,
    grid_code varchar(15) NOT NULL DEFAULT '',
    region_code varchar(12) NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT grids_position_pkey PRIMARY KEY (staff_id, recorded_at)
) PARTITION BY RANGE (recorded_at);
-- statistics read a day/week/month of everybody: BRIN on time is tiny and ingest-friendly
CREATE INDEX grids_position_time_brin ON grids_position USING brin (recorded_at);
CREATE TABLE grids_position_default PARTITION OF grids_position DEFAULT;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("grids", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(POSITIONS_SQL, reverse_sql="DROP TABLE grids_position CASCADE;"),
        migrations.CreateModel(
            name="Position",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "staff", "recorded_at", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("recorded_at", models.DateTimeField(verbose_name="定位时间")),
                ("geom", django.contrib.gis.db.models.fields.PointField(srid=4326, verbose_name="位置")),
                ("accuracy_m", models.FloatField(null=True, verbose_name="精度（米）")),
                ("cum_m", models.FloatField(verbose_name="累计里程（米）")),
                ("grid_code", models.CharField(max_length=15, verbose_name="单元网格")),
                ("region_code", models.CharField(max_length=12, verbose_name="区划")),
                ("received_at", models.DateTimeField(verbose_name="接收时间")),
            ],
            options={
                "verbose_name": "巡查位置",
                "verbose_name_plural": "巡查位置",
                "db_table": "grids_position",
                "ordering": ["staff", "recorded_at"],
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="GridStaff",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=40, verbose_name="姓名")),
                ("phone", models.CharField(blank=True, max_length=20, verbose_name="手机号")),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("grid_head", "网格长"),
                            ("full_time", "专职网格员"),
                            ("part_time", "兼职网格员"),
                            ("instructor", "网格指导员"),
                            ("party_leader", "党小组长"),
                        ],
                        max_length=16,
                        verbose_name="主要角色",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("active", "在岗"), ("leave", "休假"), ("left", "离岗")],
                        default="active",
                        max_length=8,
                        verbose_name="状态",
                    ),
                ),
                ("region_code", models.CharField(db_index=True, max_length=12, verbose_name="所属区划")),
                (
                    "last_position_at",
                    models.DateTimeField(blank=True, editable=False, null=True, verbose_name="最近定位时间"),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "user",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="grid_staff",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="登录账号",
                    ),
                ),
            ],
            options={
                "verbose_name": "网格员",
                "verbose_name_plural": "网格员",
                "ordering": ["region_code", "name", "id"],
            },
        ),
        migrations.CreateModel(
            name="GridDepartment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("grid_code", models.CharField(db_index=True, max_length=15, verbose_name="网格编码")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "department",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="events.department"
                    ),
                ),
            ],
            options={
                "verbose_name": "网格入格部门",
                "verbose_name_plural": "网格入格部门",
                "ordering": ["grid_code", "department_id"],
                "constraints": [
                    models.UniqueConstraint(fields=("grid_code", "department"), name="grid_department_unique")
                ],
            },
        ),
        migrations.CreateModel(
            name="StaffAssignment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("grid_code", models.CharField(db_index=True, max_length=15, verbose_name="网格编码")),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("grid_head", "网格长"),
                            ("full_time", "专职网格员"),
                            ("part_time", "兼职网格员"),
                            ("instructor", "网格指导员"),
                            ("party_leader", "党小组长"),
                        ],
                        max_length=16,
                        verbose_name="网格角色",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "staff",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="assignments",
                        to="grids.gridstaff",
                    ),
                ),
            ],
            options={
                "verbose_name": "网格员负责网格",
                "verbose_name_plural": "网格员负责网格",
                "ordering": ["grid_code", "role", "staff_id"],
                "constraints": [
                    models.UniqueConstraint(fields=("staff", "grid_code"), name="staff_assignment_unique")
                ],
            },
        ),
    ]
