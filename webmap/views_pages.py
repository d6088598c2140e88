"""Track playback, the planners' view and the field page: login + scope (``page_view``), then a
template. Everything they show comes afterwards from the API and the vector tiles."""

from django.http import HttpRequest, HttpResponse

from .views import page_view, render_page

__all__ = ["field", "planner", "track"]


@page_view("track")
def track(request: HttpRequest) -> HttpResponse:
    """轨迹回放: a person and a day, played by elapsed time."""
    return render_page(request, "webmap/track.html", "track")


@page_view("planner")
def planner(request: HttpRequest) -> HttpResponse:
    """文明创建: units by type and level, district figures, density, assessment-site draws."""
    return render_page(request, "webmap/planner.html", "planner")


@page_view("field")
def field(request: HttpRequest) -> HttpResponse:
    """网格员 on a phone: locate me, report an event, my tasks and my grid."""
    return render_page(request, "webmap/field.html", "field")
