"""Unit grids (单元网格): the smallest cell of grid governance."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models

from gis_core.models import Region

__all__ = [
    "GridDepartment",
    "GridKind",
    "GridStaff",
    "Position",
    "StaffAssignment",
    "StaffRole",
    "StaffStatus",
    "UnitGrid",
]


class GridKind(models.TextChoices):
    GENERAL = "general", "一般网格"
    KEY = "key", "重点网格"


class UnitGridQuerySet(models.QuerySet):
    def covering(self, point) -> UnitGridQuerySet:
        """Grids whose boundary covers the point (edges included)."""
        return self.filter(geom__covers=point)

    def in_region(self, code: str) -> UnitGridQuerySet:
        """Grids inside a region of any level, by the stored region codes."""
        from gis_core.codes import level_of, prefix_of

        return self.filter(community_code__startswith=prefix_of(code, level_of(code)))


class UnitGrid(models.Model):
    """A unit grid. Code per CJ/T 213: 12-digit community code + 3-digit serial.

    The community, street and district codes are stored on the row so every
    later filter by region is an indexed prefix lookup.
    """

    code = models.CharField("网格编码", max_length=15, unique=True)
    name = models.CharField("网格名称", max_length=100)
    community = models.ForeignKey(
        Region, verbose_name="所属社区", on_delete=models.PROTECT, related_name="grids"
    )
    community_code = models.CharField("社区代码", max_length=12, db_index=True, editable=False)
    street_code = models.CharField("街道代码", max_length=12, db_index=True, editable=False)
    district_code = models.CharField("区县代码", max_length=12, db_index=True, editable=False)
    kind = models.CharField("网格类型", max_length=8, choices=GridKind.choices, default=GridKind.GENERAL)
    geom = models.MultiPolygonField("边界", srid=4326)
    area_m2 = models.FloatField("面积（平方米）", editable=False)
    households = models.PositiveIntegerField("户数", default=0)
    population = models.PositiveIntegerField("人口", default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UnitGridQuerySet.as_manager()

    class Scope:  # read by accounts.scoping
        grid_field = "code"

    class Meta:
        verbose_name = "单元网格"
        verbose_name_plural = "单元网格"
        ordering = ["code"]
        indexes = [models.Index(fields=["community_code", "kind"], name="grid_community_kind")]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


# ====================================================================== grid staff and patrol tracks
# 网格员队伍与巡查轨迹 (issue 6): people, the grids they cover, departments bound to grids
# (网格入格), and the GPS positions of patrols (a partitioned table, migration 0002).


class StaffRole(models.TextChoices):
    GRID_HEAD = "grid_head", "网格长"
    FULL_TIME = "full_time", "专职网格员"
    PART_TIME = "part_time", "兼职网格员"
    INSTRUCTOR = "instructor", "网格指导员"
    PARTY_LEADER = "party_leader", "党小组长"


class StaffStatus(models.TextChoices):
    ACTIVE = "active", "在岗"
    LEAVE = "leave", "休假"
    LEFT = "left", "离岗"


class GridStaff(models.Model):
    """A member of the grid staff (网格员队伍). ``region_code`` is the deepest region holding
    all of the person's grids (set by the service), which is what scopes them."""

    name = models.CharField("姓名", max_length=40)
    phone = models.CharField("手机号", max_length=20, blank=True)
    role = models.CharField("主要角色", max_length=16, choices=StaffRole.choices)
    status = models.CharField("状态", max_length=8, choices=StaffStatus.choices, default=StaffStatus.ACTIVE)
    region_code = models.CharField("所属区划", max_length=12, db_index=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name="登录账号", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="grid_staff",
    )  # fmt: skip
    # the time of the newest position on record (online now = recent enough), kept by the ingest
    last_position_at = models.DateTimeField("最近定位时间", null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Scope:  # read by accounts.scoping
        region_field = "region_code"

    class Meta:
        verbose_name = "网格员"
        verbose_name_plural = "网格员"
        ordering = ["region_code", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_role_display()}）"


class StaffAssignment(models.Model):
    """One grid a person covers, and in which role (a 网格长 of one grid may be a 兼职网格员 of another).

    The grid is held by its code, like every other row of the project (``Event.grid_code``):
    scoping and region filters are prefix lookups on it, which a foreign key does not allow.
    """

    staff = models.ForeignKey(GridStaff, on_delete=models.CASCADE, related_name="assignments")
    grid_code = models.CharField("网格编码", max_length=15, db_index=True)
    role = models.CharField("网格角色", max_length=16, choices=StaffRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Scope:  # read by accounts.scoping
        grid_field = "grid_code"

    class Meta:
        verbose_name = "网格员负责网格"
        verbose_name_plural = "网格员负责网格"
        ordering = ["grid_code", "role", "staff_id"]
        constraints = [models.UniqueConstraint(fields=["staff", "grid_code"], name="staff_assignment_unique")]

    def __str__(self) -> str:
        return f"{self.staff_id} → {self.grid_code}"


class GridDepartment(models.Model):
    """A handling department bound to a grid (网格入格): dispatch prefers it for the grid's events
    (``grids.selectors.staff.departments_for_grid``)."""

    grid_code = models.CharField("网格编码", max_length=15, db_index=True)
    department = models.ForeignKey("events.Department", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Scope:  # read by accounts.scoping
        grid_field = "grid_code"

    class Meta:
        verbose_name = "网格入格部门"
        verbose_name_plural = "网格入格部门"
        ordering = ["grid_code", "department_id"]
        constraints = [
            models.UniqueConstraint(fields=["grid_code", "department"], name="grid_department_unique")
        ]

    def __str__(self) -> str:
        return f"{self.grid_code} ← {self.department_id}"


class Position(models.Model):
    """One GPS fix of a person (read-only view for the ORM).

    The table ``grids_position`` is range-partitioned by ``recorded_at`` (one partition per
    local calendar month, plus a default one for stragglers); Django cannot create such a
    table, so migration 0002 does it in SQL and this model is unmanaged. Writes go through
    ``grids.services.tracks`` only (COPY + INSERT … ON CONFLICT DO NOTHING). The primary key
    (staff, recorded_at) includes the partition key and makes re-sent fixes idempotent.
    There is no foreign key to the staff table: a per-row check would cost ingest rate, and
    staff with positions are never deleted (``staff_delete`` refuses; mark them 离岗).
    ``cum_m`` is the person's running distance, so a window's mileage is a subtraction.
    """

    pk = models.CompositePrimaryKey("staff", "recorded_at")
    staff = models.ForeignKey(GridStaff, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    recorded_at = models.DateTimeField("定位时间")
    geom = models.PointField("位置", srid=4326)
    accuracy_m = models.FloatField("精度（米）", null=True)
    cum_m = models.FloatField("累计里程（米）")
    grid_code = models.CharField("单元网格", max_length=15)
    region_code = models.CharField("区划", max_length=12)
    received_at = models.DateTimeField("接收时间")

    class Meta:
        managed = False
        db_table = "grids_position"
        verbose_name = "巡查位置"
        verbose_name_plural = "巡查位置"
        ordering = ["staff", "recorded_at"]

    def __str__(self) -> str:
        return f"{self.staff_id} {self.recorded_at:%Y-%m-%d %H:%M:%S}"


# city components and cameras (issue 6) live in their own module; imported here so Django registers them
from .assets import Camera, CameraCategory, CityComponent, ComponentClass, ComponentPhoto, ComponentStatus  # noqa: E402, F401
