"""Events (事件 and 部件问题), their classification, the working calendar, handling
departments, the lifecycle record, attachments and overdue notifications."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Polygon
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from . import flow
from .workdays import parse_limit

__all__ = [
    "Attachment",
    "AttachmentKind",
    "Department",
    "Event",
    "EventCategory",
    "EventKind",
    "EventSource",
    "EventState",
    "EventTransition",
    "Notification",
    "NotificationKind",
    "WorkCalendarDay",
]

METRES_PER_DEGREE_LAT = 110_574.0  # the shortest degree of latitude (at the equator)


class EventKind(models.TextChoices):
    EVENT = "event", "事件"
    COMPONENT = "component", "部件"


EventState = models.TextChoices("EventState", [(k, (k, v)) for k, v in flow.STATES.items()])


class EventSource(models.TextChoices):
    FIELD = "field", "网格员上报"
    HOTLINE = "hotline", "12345 热线"
    WEB = "web", "网站/公众"
    SYSTEM = "system", "其他系统"


class EventCategory(models.Model):
    """A class of the two-level classification (大类 / 小类) of events or components.

    Only minor classes carry time limits: ``{step: "3d" | "4h" | "2ch"}`` for the
    steps verify, register, dispatch, handle, check, close (see :mod:`events.workdays`).
    """

    code = models.CharField("编码", max_length=16, unique=True)
    name = models.CharField("名称", max_length=60)
    kind = models.CharField("类型", max_length=16, choices=EventKind.choices)
    parent = models.ForeignKey(
        "self", verbose_name="大类", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    time_limits = models.JSONField("各环节时限", default=dict, blank=True)
    department_name = models.CharField("默认处置部门", max_length=60, blank=True)
    sort_order = models.PositiveIntegerField(default=0)
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "事件部件分类"
        verbose_name_plural = "事件部件分类"
        ordering = ["kind", "sort_order", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_major(self) -> bool:
        return self.parent_id is None

    def clean(self) -> None:
        if not isinstance(self.time_limits, dict):
            raise ValidationError({"time_limits": "应为 {环节: 时限} 对象"})
        for step, text in self.time_limits.items():
            if step not in flow.STEPS:
                raise ValidationError({"time_limits": f"未知环节 {step}，可选 {'、'.join(flow.STEPS)}"})
            try:
                parse_limit(text)
            except ValueError as exc:
                raise ValidationError({"time_limits": str(exc)}) from None
        if self.parent is not None:
            if self.parent.parent_id is not None:
                raise ValidationError({"parent": "分类只有两级：小类的上级必须是大类"})
            if self.parent.kind != self.kind:
                raise ValidationError({"parent": "小类与大类的类型（事件/部件）应一致"})


class WorkCalendarDay(models.Model):
    """An exception to Monday–Friday: a holiday on a weekday, or a worked weekend day (调休)."""

    date = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("上班")
    note = models.CharField("说明", max_length=60, blank=True)

    class Meta:
        verbose_name = "工作日历"
        verbose_name_plural = "工作日历"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'上班' if self.is_workday else '休息'} {self.note}"


class Department(models.Model):
    """A handling department (专业处置部门) of a region: events are dispatched to it."""

    name = models.CharField("名称", max_length=60)
    region_code = models.CharField("所属区划", max_length=12, db_index=True)
    handlers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name="处置人员", blank=True, related_name="event_departments"
    )
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "处置部门"
        verbose_name_plural = "处置部门"
        ordering = ["region_code", "name"]
        constraints = [models.UniqueConstraint(fields=["region_code", "name"], name="department_unique_name")]

    class Scope:  # read by accounts.scoping
        region_field = "region_code"

    def __str__(self) -> str:
        return self.name


class EventQuerySet(models.QuerySet):
    def open(self) -> EventQuerySet:
        return self.filter(state__in=flow.OPEN_STATES)

    def near(self, point, radius_m: float) -> EventQuerySet:
        """Within ``radius_m`` metres of ``point`` on the ground (spheroid distance), annotated
        ``distance`` (a Distance; ``.m`` in metres). A bounding box in degrees, a little larger
        than the circle, lets the GiST index on ``geom`` do the first cut."""
        dlat = radius_m / METRES_PER_DEGREE_LAT * 1.01 + 1e-7
        cos = max(math.cos(math.radians(min(abs(point.y) + dlat, 89.9))), 1e-6)
        dlon = dlat / cos
        box = Polygon.from_bbox((point.x - dlon, point.y - dlat, point.x + dlon, point.y + dlat))
        box.srid = 4326
        return (
            self.filter(geom__intersects=box)
            .annotate(distance=Distance("geom", point, spheroid=True))
            .filter(distance__lte=radius_m)
        )


class Event(models.Model):
    """An event or a component problem, with its place stored once on write: the unit
    grid and the region chain come from point location, so every filter is indexed.

    The references of events and transitions (``db_constraint=False``) are checked by
    statement triggers with a foreign key's rules (migration 0012): once per statement
    instead of once per row and reference at commit, which was a third of a bulk load's time."""

    # unique where given (Meta.constraints): a partial index, so the millions of events without
    # one (bulk loads, other systems) add no index entry
    client_id = models.UUIDField("客户端编号", null=True, blank=True)
    kind = models.CharField("类型", max_length=16, choices=EventKind.choices)
    category = models.ForeignKey(  # the foreign key's own index is the category index
        EventCategory, verbose_name="小类", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    description = models.TextField("描述", max_length=2000)
    geom = models.PointField("位置", srid=4326)
    grid_code = models.CharField("单元网格", max_length=15)
    region_code = models.CharField("社区", max_length=12)
    street_code = models.CharField("街道", max_length=12)
    district_code = models.CharField("区县", max_length=12)
    address = models.CharField("地址", max_length=300, blank=True)
    source = models.CharField("来源", max_length=16, choices=EventSource.choices)
    # no index: nothing filters by them, and each index slows the bulk inserts of millions of events
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="上报人", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", db_index=False, db_constraint=False,
    )  # fmt: skip
    api_key = models.ForeignKey(
        "accounts.ApiKey", verbose_name="上报系统", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", db_index=False, db_constraint=False,
    )  # fmt: skip
    component_code = models.CharField("部件编码", max_length=40, blank=True)
    state = models.CharField("状态", max_length=16, choices=EventState.choices, default="reported")
    resume_state = models.CharField("挂起前状态", max_length=16, blank=True)
    # indexed where set only (Meta.indexes): a fresh report has none, and bulk uploads are fresh reports
    department = models.ForeignKey(
        Department, verbose_name="处置部门", null=True, blank=True, on_delete=models.PROTECT,
        related_name="events", db_index=False, db_constraint=False,
    )  # fmt: skip
    reported_at = models.DateTimeField("上报时间")
    # the clock of the current step (None: no limit for it, or stopped)
    step_started_at = models.DateTimeField("本环节开始", null=True, blank=True)
    warn_at = models.DateTimeField("预警时间", null=True, blank=True)
    due_at = models.DateTimeField("本环节时限", null=True, blank=True)
    escalate_at = models.DateTimeField("升级时间", null=True, blank=True)
    spent_s = models.FloatField("挂起时已用时限（秒）", null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField("督办级别", default=0)  # 1 overdue, 2 escalated
    escalated_at = models.DateTimeField("升级督办时间", null=True, blank=True)
    closed_at = models.DateTimeField("结束时间", null=True, blank=True)
    # indexed where set only (Meta.indexes): a few per cent of the events are merged duplicates
    duplicate_of = models.ForeignKey(
        "self", verbose_name="合并至", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="duplicates", db_index=False, db_constraint=False,
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = "事件"
        verbose_name_plural = "事件"
        ordering = ["-reported_at", "-id"]
        indexes = [
            models.Index(fields=["grid_code"], name="event_grid_idx"),
            models.Index(fields=["district_code"], name="event_district_idx"),
            models.Index(fields=["state"], name="event_state_idx"),
            models.Index(fields=["reported_at"], name="event_reported_idx"),
            # what the escalation sweep reads: the clocks of open events only
            models.Index(
                fields=["due_at"], name="event_open_due_idx", condition=Q(state__in=sorted(flow.OPEN_STATES))
            ),
            models.Index(
                fields=["duplicate_of"],
                name="event_duplicate_of_idx",
                condition=Q(duplicate_of__isnull=False),
            ),
            # covering: the heatmap of a department's events reads this index alone (0014)
            models.Index(
                fields=["department"],
                name="event_department_idx",
                condition=Q(department__isnull=False),
                include=["grid_code", "geom"],
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client_id"], name="event_client_id_key", condition=Q(client_id__isnull=False)
            )
        ]

    class Scope:  # read by accounts.scoping
        grid_field = "grid_code"

    def __str__(self) -> str:
        return f"#{self.pk} {self.description[:20]}"

    @property
    def is_open(self) -> bool:
        return self.state in flow.OPEN_STATES


class EventTransition(models.Model):
    """One step of an event's life, with who took it and when (the report is the first)."""

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="transitions", db_constraint=False
    )
    from_state = models.CharField("原状态", max_length=16, blank=True)
    to_state = models.CharField("新状态", max_length=16)
    action = models.CharField("操作", max_length=16)
    actor = models.CharField("操作者", max_length=150)  # "user:alice" / "key:ab12cd34" / "system:…"
    note = models.TextField("意见", max_length=2000, blank=True)
    at = models.DateTimeField("时间", default=timezone.now)
    # indexed where set only (Meta.indexes): one transition in six is a dispatch
    department = models.ForeignKey(
        Department, verbose_name="处置部门", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", db_index=False, db_constraint=False,
    )  # fmt: skip
    # the deadline of the step this transition ended (on-time statistics): None without a limit
    step_due_at = models.DateTimeField("原环节时限", null=True, blank=True)
    # when the step this transition ended began (handling-time statistics; a suspension does
    # not restart a step)
    step_started_at = models.DateTimeField("原环节开始", null=True, blank=True)

    class Meta:
        verbose_name = "事件流转记录"
        verbose_name_plural = "事件流转记录"
        ordering = ["event", "at", "id"]
        indexes = [
            # what the statistics read (the ends of steps): every event's report is left out, so a
            # fresh report adds no entry here (its time is the event's reported_at)
            models.Index(
                fields=["action", "at"], name="event_transition_step_idx", condition=~Q(action="report")
            ),
            models.Index(
                fields=["department"], name="event_transition_dept_idx", condition=Q(department__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.event_id} {self.action} {self.from_state}→{self.to_state}"

    @property
    def on_time(self) -> bool | None:
        return None if self.step_due_at is None else self.at <= self.step_due_at


class AttachmentKind(models.TextChoices):
    IMAGE = "image", "图片"
    AUDIO = "audio", "音频"


def _upload_to(instance, filename: str) -> str:
    today = dt.date.today()
    return f"events/{today:%Y/%m}/{filename}"


class Attachment(models.Model):
    """A photo or a voice note of a report or of a transition (checked by content, not by name)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attachments")
    transition = models.ForeignKey(
        EventTransition, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    kind = models.CharField(max_length=8, choices=AttachmentKind.choices)
    file = models.FileField(upload_to=_upload_to, max_length=200)
    thumbnail = models.FileField(upload_to=_upload_to, max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveBigIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "附件"
        verbose_name_plural = "附件"
        ordering = ["event", "id"]

    def __str__(self) -> str:
        return f"#{self.event_id} {self.original_name or self.file.name}"


class NotificationKind(models.TextChoices):
    OVERDUE = "overdue", "超时"
    ESCALATED = "escalated", "升级督办"


class Notification(models.Model):
    """A notice to the operators of a region (the event's district) about an event."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    message = models.CharField(max_length=300)
    region_code = models.CharField(max_length=12, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "通知"
        verbose_name_plural = "通知"
        ordering = ["-created_at", "-id"]

    class Scope:  # read by accounts.scoping
        region_field = "region_code"

    def __str__(self) -> str:
        return self.message


#: side of an EventCell in web-mercator metres: BinGrid.for_zoom("square", 14, 32).size, exactly
CELL_M = 305.748113140705


class NotificationRead(models.Model):
    """That one reader (``user:<name>`` or ``key:<prefix>``, as transitions name their actor)
    has read a notice: each operator of a region keeps their own unread list."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads")
    reader = models.CharField("读者", max_length=150)
    read_at = models.DateTimeField("已读时间", default=timezone.now)

    class Meta:
        verbose_name = "通知已读"
        verbose_name_plural = "通知已读"
        constraints = [
            models.UniqueConstraint(fields=["notification", "reader"], name="notification_read_once")
        ]

    def __str__(self) -> str:
        return f"{self.reader} 已读 #{self.notification_id}"


class _CellCounts(models.Model):
    """What every table of event counts per web-mercator cell holds (kept by one trigger on write,
    keyed by its cells: each concrete table declares its composite primary key)."""

    i = models.IntegerField()
    j = models.IntegerField()
    region_code = models.CharField("社区", max_length=12)
    state = models.CharField("状态", max_length=16, choices=EventState.choices)
    n = models.IntegerField("事件数")
    sum_x = models.FloatField()
    sum_y = models.FloatField()

    class Meta:
        abstract = True


class _Cells(_CellCounts):
    """Counts per cell and unit grid (and community)."""

    grid_code = models.CharField("单元网格", max_length=15)

    class Meta:
        abstract = True

    class Scope:  # read by accounts.scoping: the same codes as the events counted
        grid_field = "grid_code"


class EventCell(_Cells):
    """Events counted per web-mercator cell (热力格), unit grid, state and month, kept on write.

    A cell is ``CELL_M`` map metres square (32 screen pixels at zoom 14, ~268 m on the
    ground at 29°N), numbered as the heatmap numbers square bins (``floor(x / size)``), so
    the bins of zoom 14 and below are exact unions of cells. ``reported_at`` is the
    start of the month (Beijing time) the events were reported in. One statement trigger on
    ``events_event`` (migration 0009; the table is 0003's) adds and subtracts on every insert (COPY included),
    update and delete, so the cells always hold what the events table holds; the heatmap
    sums them when the filters allow (:mod:`events.cells`). ``sum_x``/``sum_y`` are the
    sums of the points' mercator coordinates (centroids of aggregated tile cells).
    """

    pk = models.CompositePrimaryKey("i", "j", "grid_code", "region_code", "state", "reported_at")
    reported_at = models.DateTimeField("上报月份")

    class Meta:
        verbose_name = "事件热力格"
        verbose_name_plural = "事件热力格"


class EventCellTotal(_Cells):
    """Events counted per cell of ``CELL_M``, unit grid and state — no month — kept on write
    by the same trigger as :class:`EventCell` (table from migration 0008): the same cells
    summed over every month.

    What a map without a time window reads: a city view's heatmap, a range count's inside
    cells, the aggregated tiles below zoom 13. The month multiplies the rows of
    :class:`EventCell` (2.6× at 1 M events over two years: 412,303 rows against 160,159), and
    every one of them is read when no window is asked for. A time window takes
    :class:`EventCell`.
    """

    pk = models.CompositePrimaryKey("i", "j", "grid_code", "region_code", "state")

    class Meta:
        verbose_name = "事件热力格（不分月）"
        verbose_name_plural = "事件热力格（不分月）"


#: side of an EventFineCell: an eighth of CELL_M (32 px at zoom 17), exactly (a power of two)
FINE_CELL_M = CELL_M / 8


class EventFineCell(_Cells):
    """Events counted per fine web-mercator cell (``FINE_CELL_M``, ~33 m on the ground at 29°N),
    unit grid and state — no month — kept on write by the same trigger as :class:`EventCell`
    (table from migration 0006).

    What the coarse cells are too coarse for: aggregated event tiles at zooms 13–15 (their
    32-per-tile bins are 2–8 fine cells) and the edge of a range (a circle's count sums the
    coarse cells inside it, then the fine cells inside it along its edge, and tests only the
    points of the fine cells its edge crosses). No month: a time window takes the coarse
    cells or the scan.
    """

    pk = models.CompositePrimaryKey("i", "j", "grid_code", "region_code", "state")

    class Meta:
        verbose_name = "事件细热力格"
        verbose_name_plural = "事件细热力格"


#: side of the cells by class and by day: four coarse cells (32 px at zoom 12, the bins of a city view)
WIDE_CELL_M = CELL_M * 4


class _RegionCells(_CellCounts):
    """Event counts per wide cell (``WIDE_CELL_M``), community and state, kept by the cells'
    trigger (migrations 0010, 0011, 0013), for the filters the grid-keyed cells do not keep. No unit grid:
    a jurisdiction of regions is a prefix of the community code (a unit grid's code begins with
    its community's, CJ/T 213); a field worker's list of grids takes the other cells or the points."""

    class Meta:
        abstract = True

    class Scope:  # read by accounts.scoping
        region_field = "region_code"


class _ClassCells(_RegionCells):
    """… and per minor class, kind and source (kind follows the class: it adds no rows)."""

    category = models.ForeignKey(
        EventCategory, verbose_name="小类", on_delete=models.DO_NOTHING, related_name="+",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    kind = models.CharField("类型", max_length=16, choices=EventKind.choices)
    source = models.CharField("来源", max_length=16, choices=EventSource.choices)

    class Meta:
        abstract = True


class EventClassCell(_ClassCells):
    """Events counted per wide cell, community, state, minor class, kind and source — no month
    (migration 0011):
    the command center's heatmap of a category, a kind or a source (the class leads the key,
    so one category's cells are one range of it)."""

    pk = models.CompositePrimaryKey("category_id", "source", "state", "i", "j", "region_code", "kind")

    class Meta:
        verbose_name = "事件分类热力格"
        verbose_name_plural = "事件分类热力格"


class EventClassDayCell(_ClassCells):
    """Events counted per wide cell, community, state, minor class, kind, source and day (Beijing
    time) (migration 0013): what neither of the others keeps together — a category, a kind or a
    source under a time window (the last 7 days of one category). The day leads the key: a window
    is one range of it, whatever else is asked within it."""

    pk = models.CompositePrimaryKey(
        "reported_at", "category_id", "source", "state", "i", "j", "region_code", "kind"
    )
    reported_at = models.DateTimeField("上报日")

    class Meta:
        verbose_name = "事件分类逐日热力格"
        verbose_name_plural = "事件分类逐日热力格"


class EventDayCell(_RegionCells):
    """Events counted per wide cell, community, state and day (Beijing time): a time window to
    the minute (the last 7 days) sums its whole days here and reads only the points of the
    two part-days at its edges. The day leads the key: a window is one range of it."""

    pk = models.CompositePrimaryKey("reported_at", "i", "j", "region_code", "state")
    reported_at = models.DateTimeField("上报日")

    class Meta:
        verbose_name = "事件逐日热力格"
        verbose_name_plural = "事件逐日热力格"
