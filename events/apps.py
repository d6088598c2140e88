from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "事件与部件问题"

    def ready(self) -> None:
        from accounts.audit import AUDITED
        from gis_core.selectors.density import CellCounts, register_cell_counts

        from .models import CELL_M, Event, EventCell

        # heatmaps of events sum the cells kept by triggers when the filters allow (migration 0003)
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

        # writes through the API or the admin are recorded in the audit trail
        AUDITED.update(
            {
                "events.event",
                "events.eventcategory",
                "events.workcalendarday",
                "events.department",
            }
        )
