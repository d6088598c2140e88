from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "事件与部件问题"

    def ready(self) -> None:
        from accounts.audit import AUDITED

        # writes through the API or the admin are recorded in the audit trail
        AUDITED.update(
            {
                "events.event",
                "events.eventcategory",
                "events.workcalendarday",
                "events.department",
            }
        )
