from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "事件与部件问题"

    def ready(self) -> None:
        from accounts.audit import AUDITED
        from gis_core.selectors.density import CellCounts, register_cell_counts

        from .models import (
            CELL_M,
            FINE_CELL_M,
            WIDE_CELL_M,
            Event,
            EventCell,
            EventCellTotal,
            EventClassCell,
            EventClassDayCell,
            EventDayCell,
            EventFineCell,
        )

        # heatmaps of events sum the cells kept by one trigger when the filters allow (migration 0009)
        register_cell_counts(
            Event,
            CellCounts(
                EventCell,
                size=CELL_M,
                fields=frozenset({"grid_code", "region_code", "state", "reported_at"}),
                time_field="reported_at",
                time_unit="month",
                tz="Asia/Shanghai",
            ),
        )
        # … the same cells over every month, for whatever asks no time window (0008) …
        register_cell_counts(
            Event,
            CellCounts(EventCellTotal, size=CELL_M, fields=frozenset({"grid_code", "region_code", "state"})),
        )
        # … and the fine cells (no month) for tiles at zooms 13-15 and the edges of ranges (0006)
        register_cell_counts(
            Event,
            CellCounts(
                EventFineCell, size=FINE_CELL_M, fields=frozenset({"grid_code", "region_code", "state"})
            ),
        )
        # what the grid-keyed cells do not keep, per wide cell and community: the heatmap of a
        # category, kind or source (0011), and the whole days of a window to the minute (0010)
        community = (("grid_code", "region_code", 12),)  # a unit grid's code begins with its community's
        wide = {"size": WIDE_CELL_M, "prefixes": community, "fallback": True}
        by_day = {"time_field": "reported_at", "time_unit": "day", "tz": "Asia/Shanghai"}
        region, classes = frozenset({"region_code", "state"}), frozenset({"category", "kind", "source"})
        register_cell_counts(Event, CellCounts(EventClassCell, fields=region | classes, **wide))
        register_cell_counts(
            Event, CellCounts(EventDayCell, fields=region | {"reported_at"}, **wide, **by_day)
        )
        # … and a category, kind or source under a time window, by day (0013): asked after the day
        # cells, which answer a window alone from fewer rows
        register_cell_counts(
            Event, CellCounts(EventClassDayCell, fields=region | classes | {"reported_at"}, **wide, **by_day)
        )

        # writes through the API or the admin are recorded in the audit trail
        AUDITED.update(
            {
                "events.event",
                "events.eventcategory",
                "events.workcalendarday",
                "events.department",
            }
        )
