"""City components (城市部件) and camera points (视频点位): the things in the street that grid work
looks after, each with its unit grid and region chain stored on write (issue 6).

Imported at the bottom of ``grids/models.py`` so Django registers the models; migration 0003.

Geometry of a component: ``geom`` holds whatever the thing is (a point for a manhole cover, a
line for a railing, a polygon for a green space — any geometry type, SRID 4326), and ``point``
a representative point of it (the point itself; the middle of a line along its length; a point
on the surface of a polygon). Grid, regions, range queries, heatmaps and exports all use
``point``, so every component is one point on the map layers. Both columns are GiST-indexed.
"""

from __future__ import annotations

from django.contrib.gis.db import models

__all__ = [
    "Camera",
    "CameraCategory",
    "CityComponent",
    "ComponentClass",
    "ComponentPhoto",
    "ComponentStatus",
    "GeometryKind",
]


class GeometryKind(models.TextChoices):
    POINT = "point", "点"
    LINE = "line", "线"
    POLYGON = "polygon", "面"


class ComponentClass(models.Model):
    """A class of the national component classification (GB/T 30428.2 / CJ/T 214): a major
    class (大类, 2-digit code, ``major`` empty) or a minor class (小类, 4 digits: major + 2).

    ``geometry_kind`` is how the standard draws the thing (点/线/面); a component of a line or
    polygon class may still be recorded as a point, never the other way round.
    """

    code = models.CharField("分类代码", max_length=4, unique=True)
    name = models.CharField("名称", max_length=40)
    major = models.ForeignKey(
        "self", verbose_name="大类", null=True, blank=True, on_delete=models.CASCADE, related_name="minors"
    )
    geometry_kind = models.CharField(
        "几何类型", max_length=8, choices=GeometryKind.choices, default=GeometryKind.POINT
    )
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "部件分类"
        verbose_name_plural = "部件分类"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ComponentStatus(models.TextChoices):
    INTACT = "intact", "完好"
    DAMAGED = "damaged", "破损"
    LOST = "lost", "丢失"
    REMOVED = "removed", "移除"


class CityComponent(models.Model):
    """A city component (城市部件). ``code`` is the 16-digit 部件标识码 of GB/T 30428.2:
    county-level division code (6) + minor class code (4: major 2 + minor 2) + serial (6)."""

    code = models.CharField("部件编码", max_length=16, unique=True)
    component_class = models.ForeignKey(
        ComponentClass, verbose_name="小类", on_delete=models.PROTECT, related_name="components"
    )
    name = models.CharField("名称", max_length=100, blank=True)
    geom = models.GeometryField("几何", srid=4326)
    point = models.PointField("代表点", srid=4326)
    owner_department = models.CharField("主管部门", max_length=100, blank=True)
    maintainer = models.CharField("养护单位", max_length=100, blank=True)
    status = models.CharField(
        "状态", max_length=8, choices=ComponentStatus.choices, default=ComponentStatus.INTACT
    )
    note = models.CharField("备注", max_length=500, blank=True)
    grid_code = models.CharField("单元网格", max_length=15, db_index=True)
    region_code = models.CharField("社区", max_length=12)
    street_code = models.CharField("街道", max_length=12)
    district_code = models.CharField("区县", max_length=12, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Scope:  # read by accounts.scoping
        grid_field = "grid_code"

    class Meta:
        verbose_name = "城市部件"
        verbose_name_plural = "城市部件"
        ordering = ["code"]
        indexes = [models.Index(fields=["component_class", "status"], name="component_class_status")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


def _photo_upload_to(instance, filename: str) -> str:
    return f"components/{instance.component.code[:6]}/{filename}"


class ComponentPhoto(models.Model):
    """A photo of a component (checked by content, with a JPEG thumbnail)."""

    component = models.ForeignKey(CityComponent, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to=_photo_upload_to, max_length=200)
    thumbnail = models.FileField(upload_to=_photo_upload_to, max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveBigIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "部件照片"
        verbose_name_plural = "部件照片"
        ordering = ["component", "id"]

    def __str__(self) -> str:
        return f"{self.component_id} {self.original_name or self.file.name}"


class CameraCategory(models.TextChoices):
    PUBLIC_SECURITY = "public_security", "公安"
    TRAFFIC = "traffic", "交通"
    SAFETY = "safety", "安全"
    SOCIETY = "society", "社会"


class Camera(models.Model):
    """A camera point (视频点位) and the ground it sees: a sector from ``direction`` (degrees
    clockwise from north), ``angle`` (field of view) and ``range_m``, drawn geodesically and
    stored on write (``sector``, GiST) so "which cameras see this point" is one index lookup.

    ``code`` is the 20-digit GB/T 28181 device code, whose first 6 digits are the district's.
    The stream URL is served only to callers with the ``cameras:stream`` scope.
    """

    code = models.CharField("设备编码", max_length=20, unique=True)
    name = models.CharField("名称", max_length=100)
    category = models.CharField("类别", max_length=16, choices=CameraCategory.choices)
    owner_unit = models.CharField("权属单位", max_length=100, blank=True)
    responsible_person = models.CharField("负责人", max_length=40, blank=True)
    responsible_phone = models.CharField("负责人电话", max_length=20, blank=True)
    geom = models.PointField("位置", srid=4326)
    direction = models.FloatField("朝向（度，正北顺时针）")
    angle = models.FloatField("视角（度）")
    range_m = models.FloatField("可视距离（米）")
    sector = models.PolygonField("可视范围", srid=4326)
    stream_url = models.CharField("视频流地址", max_length=500, blank=True)
    grid_code = models.CharField("单元网格", max_length=15, db_index=True)
    region_code = models.CharField("社区", max_length=12)
    street_code = models.CharField("街道", max_length=12)
    district_code = models.CharField("区县", max_length=12, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Scope:  # read by accounts.scoping
        grid_field = "grid_code"

    class Meta:
        verbose_name = "视频点位"
        verbose_name_plural = "视频点位"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(direction__gte=0, direction__lte=360), name="camera_direction_range"
            ),
            models.CheckConstraint(
                condition=models.Q(angle__gt=0, angle__lte=360), name="camera_angle_range"
            ),
            models.CheckConstraint(condition=models.Q(range_m__gt=0), name="camera_range_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"
