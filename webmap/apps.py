from django.apps import AppConfig


class WebmapConfig(AppConfig):
    """The web pages (指挥中心, 轨迹回放, 文明创建, 网格员): templates and static files over the API."""

    name = "webmap"
    verbose_name = "网页地图"

    def ready(self) -> None:
        from jobs.registry import register_kind

        from .export_jobs import EXPORT_KIND

        register_kind(EXPORT_KIND)  # map exports (folium HTML/PNG/PDF) run as jobs
