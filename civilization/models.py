"""Civilization-creation units (文明创建单位) and field-assessment site draws (测评地点随机抽选).

A unit stores its point and, on write, its unit grid and region chain (like events). A
family (文明家庭) is personal data: beside its exact point every unit stores a *public*
point — for a family the representative point of its community (社区), for every other
unit the exact point — and the grid that public point lies in. Callers without
``personal:read`` are served the :class:`PublicCivilizationUnit` proxy, whose ``Scope``
and geometry are the public ones, so every filter, bin and statistic they can ask for is
computed on the coarsened location and cannot reveal the exact one.

A draw keeps the frame it was drawn from (content-addressed :class:`DrawFrame`), its seed
and parameters, so it can be run again and verified; the drawn sites are rows of
:class:`DrawSite` in stratum order (base sites, then reserves in order of use).
"""

from __future__ import annotations

from django.contrib.gis.db import models

__all__ = [
    "AssessmentDraw",
    "CivilizationUnit",
    "DrawFrame",
    "DrawMethod",
    "DrawSite",
    "DrawState",
    "HonourLevel",
    "PublicCivilizationUnit",
    "RegionPopulation",
    "SiteRole",
    "UnitStatus",
    "UnitType",
]


class UnitType(models.TextChoices):
    CITY = "city", "文明城市"
    UNIT = "unit", "文明单位"
    VILLAGE = "village", "文明村镇"
    CAMPUS = "campus", "文明校园"
    COMMUNITY = "community", "文明社区"
    FAMILY = "family", "文明家庭"


class HonourLevel(models.TextChoices):
    DISTRICT = "district", "区县级"
    CITY = "city", "市级"
    PROVINCIAL = "provincial", "省级"
    NATIONAL = "national", "全国"


class UnitStatus(models.TextChoices):
    VALID = "valid", "有效"
    REVIEW = "review", "复查中"
    REVOKED = "revoked", "已撤销"


class CivilizationUnit(models.Model):
    """A unit honoured in civilization creation, with where it is (grid and regions stored on write)."""

    name = models.CharField("名称", max_length=120, db_index=True)
    unit_type = models.CharField("类型", max_length=12, choices=UnitType.choices, db_index=True)
    level = models.CharField("荣誉级别", max_length=12, choices=HonourLevel.choices, db_index=True)
    year_awarded = models.PositiveSmallIntegerField("授予年份")
    term = models.PositiveSmallIntegerField("届次", null=True, blank=True)
    review_year = models.PositiveSmallIntegerField("复查年份", null=True, blank=True, db_index=True)
    status = models.CharField("状态", max_length=10, choices=UnitStatus.choices, default=UnitStatus.VALID)
    address = models.CharField("地址", max_length=300, blank=True)
    contact = models.CharField("联系人/电话", max_length=100, blank=True)
    geom = models.PointField("位置", srid=4326)
    grid_code = models.CharField("单元网格", max_length=15, db_index=True)
    region_code = models.CharField("所在社区", max_length=12, db_index=True)
    street_code = models.CharField("街道乡镇", max_length=12, blank=True)
    district_code = models.CharField("区县", max_length=12, db_index=True)
    # what callers without personal:read see (a family: its community's representative point)
    public_geom = models.PointField("公开位置", srid=4326)
    public_grid_code = models.CharField("公开位置所在网格", max_length=15, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "文明创建单位"
        verbose_name_plural = "文明创建单位"
        ordering = ["district_code", "unit_type", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit_type", "district_code", "name"], name="civ_unit_unique_name"
            ),
            models.CheckConstraint(condition=models.Q(year_awarded__gte=1980), name="civ_unit_year"),
        ]

    class Scope:  # read by accounts.scoping and the range filter
        grid_field = "grid_code"

    def __str__(self) -> str:
        return f"{self.name}（{self.get_unit_type_display()}）"

    @property
    def is_personal(self) -> bool:
        return self.unit_type == UnitType.FAMILY


class PublicCivilizationUnit(CivilizationUnit):
    """The same rows as seen without ``personal:read``: scoped and filtered on the public grid."""

    class Meta:
        proxy = True
        verbose_name = "文明创建单位（公开位置）"
        verbose_name_plural = verbose_name

    class Scope:
        grid_field = "public_grid_code"


class RegionPopulation(models.Model):
    """Resident population of a region in a year (常住人口), for per-capita figures.

    Kept here rather than on ``gis_core.Region``: it is statistics of this app's use.
    """

    region_code = models.CharField("区划代码", max_length=12)
    year = models.PositiveSmallIntegerField("年份")
    population = models.PositiveIntegerField("常住人口")
    source = models.CharField("来源", max_length=100, blank=True)

    class Meta:
        verbose_name = "区划人口"
        verbose_name_plural = "区划人口"
        ordering = ["region_code", "-year"]
        constraints = [models.UniqueConstraint(fields=["region_code", "year"], name="civ_population_unique")]

    class Scope:
        region_field = "region_code"

    def __str__(self) -> str:
        return f"{self.region_code} {self.year} {self.population}"


class DrawMethod(models.TextChoices):
    GRTS = "grts", "GRTS 空间均衡抽样"
    BAS = "bas", "BAS 均衡接受抽样"
    SRS = "srs", "简单随机抽样"


class DrawState(models.TextChoices):
    DRAFTED = "drafted", "草稿"
    CONFIRMED = "confirmed", "已生效"
    VOIDED = "voided", "已作废"


class DrawKind(models.TextChoices):
    SITES = "sites", "候选点位"
    AREA = "area", "连续区域（面或道路）"


class DrawFrame(models.Model):
    """The sampling frame of a draw, stored once by its SHA-256 (immutable, shared by re-draws).

    ``sites``: ``[{"key", "type", "name", "lon", "lat", "weight", "district_code", "grid_code",
    "region_code", "source"}]`` in frame order; the hash is of this list as canonical JSON. For
    an area draw, one item per stratum: ``{"key", "type", "source", "ref", "district_code",
    "geometry"}`` with the stratum's polygons or road centre lines as GeoJSON (WGS84).
    """

    sha256 = models.CharField(max_length=64, unique=True)
    sites = models.JSONField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "抽样框"
        verbose_name_plural = "抽样框"

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.size})"


class AssessmentDraw(models.Model):
    """One draw of assessment sites: parameters, seed, frame, balance and its life (草稿/生效/作废)."""

    title = models.CharField("名称", max_length=120)
    region_code = models.CharField("范围（区划）", max_length=12, db_index=True)
    method = models.CharField("方法", max_length=8, choices=DrawMethod.choices, default=DrawMethod.GRTS)
    kind = models.CharField("抽样框类型", max_length=8, choices=DrawKind.choices, default=DrawKind.SITES)
    seed = models.BigIntegerField("随机种子")
    min_distance_m = models.FloatField("最小间距（米）", null=True, blank=True)
    allow_partial = models.BooleanField("间距不足时尽量多抽", default=False)
    strata = models.JSONField(
        "分层与样本量", default=list
    )  # per stratum: type, district, n, reserves, drawn …
    frame = models.ForeignKey(DrawFrame, on_delete=models.PROTECT, related_name="draws")
    frame_sha256 = models.CharField("抽样框摘要", max_length=64)
    balance = models.FloatField("空间均衡度", null=True, blank=True)
    srs_balance_mean = models.FloatField("简单随机抽样均衡度均值", null=True, blank=True)
    srs_replicates = models.PositiveSmallIntegerField(default=0)
    state = models.CharField("状态", max_length=10, choices=DrawState.choices, default=DrawState.DRAFTED)
    void_reason = models.CharField("作废原因", max_length=300, blank=True)
    created_by = models.CharField("抽取人", max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "测评点位抽取"
        verbose_name_plural = "测评点位抽取"
        ordering = ["-created_at", "-id"]

    class Scope:
        region_field = "region_code"

    def __str__(self) -> str:
        return f"{self.title}（{self.get_state_display()}）"


class SiteRole(models.TextChoices):
    BASE = "base", "正选"
    RESERVE = "reserve", "备选"


class DrawSite(models.Model):
    """A site drawn: base sites of a stratum in draw order, then its reserves in order of use.

    ``active``: the site is on the list to visit. Replacing an inaccessible base (or active
    reserve) site clears its ``active``, records why, and activates the next reserve.
    """

    draw = models.ForeignKey(AssessmentDraw, on_delete=models.CASCADE, related_name="sites")
    stratum = models.CharField("层", max_length=140)  # "<type>|<district code>"
    site_type = models.CharField("类型", max_length=60)
    district_code = models.CharField("区县", max_length=12)
    role = models.CharField("角色", max_length=8, choices=SiteRole.choices)
    rank = models.PositiveIntegerField("层内顺序")
    frame_index = models.PositiveIntegerField("抽样框序号")
    key = models.CharField("点位标识", max_length=80)
    name = models.CharField("名称", max_length=200)
    geom = models.PointField("位置", srid=4326)
    grid_code = models.CharField("单元网格", max_length=15, blank=True)
    region_code = models.CharField("所在区划", max_length=12, blank=True)
    inclusion_probability = models.FloatField("入样概率", null=True, blank=True)
    active = models.BooleanField("在用", default=False)
    replaced_reason = models.CharField("替换原因", max_length=300, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces"
    )

    class Meta:
        verbose_name = "抽取点位"
        verbose_name_plural = "抽取点位"
        ordering = ["draw_id", "stratum", "role", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "stratum", "role", "rank"], name="draw_site_order"),
        ]

    class Scope:
        region_field = "district_code"

    def __str__(self) -> str:
        return f"{self.stratum} {self.role} {self.rank} {self.name}"


class DrawReplacement(models.Model):
    """One replacement of an inaccessible site by the next reserve of its stratum: an appended
    record (who, when, why), allowed on a drafted or confirmed draw; never changed afterwards."""

    draw = models.ForeignKey(AssessmentDraw, on_delete=models.CASCADE, related_name="replacements")
    site = models.OneToOneField(DrawSite, on_delete=models.PROTECT, related_name="replacement_record")
    replacement = models.OneToOneField(DrawSite, on_delete=models.PROTECT, related_name="replacing_record")
    reason = models.CharField("替换原因", max_length=300)
    actor = models.CharField("操作人", max_length=150)
    region_code = models.CharField("区县", max_length=12)  # the site's district, for scoping
    created_at = models.DateTimeField("替换时间", auto_now_add=True)

    class Meta:
        verbose_name = "点位替换记录"
        verbose_name_plural = "点位替换记录"
        ordering = ["draw_id", "created_at", "id"]

    class Scope:
        region_field = "region_code"

    def __str__(self) -> str:
        return f"{self.site_id} → {self.replacement_id}（{self.reason}）"
