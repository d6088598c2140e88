from django.urls import path, re_path

from .api.open311 import (
    DiscoveryView,
    RequestDetailView,
    RequestListView,
    ServiceDefinitionView,
    ServiceListView,
)
from .api.views import (
    AttachmentView,
    CategoryListView,
    DepartmentListView,
    EventClustersView,
    EventDetailView,
    EventDuplicatesView,
    EventHeatmapView,
    EventListView,
    EventMergeView,
    EventPerformanceView,
    EventSearchView,
    EventStatsView,
    EventTransitionView,
    NotificationListView,
)

urlpatterns = [
    path("events", EventListView.as_view(), name="event-list"),
    path("events/search", EventSearchView.as_view(), name="event-search"),
    path("events/heatmap", EventHeatmapView.as_view(), name="event-heatmap"),
    path("events/clusters", EventClustersView.as_view(), name="event-clusters"),
    path("events/stats", EventStatsView.as_view(), name="event-stats"),
    path("events/performance", EventPerformanceView.as_view(), name="event-performance"),
    path("events/<int:pk>", EventDetailView.as_view(), name="event-detail"),
    path("events/<int:pk>/transitions", EventTransitionView.as_view(), name="event-transitions"),
    path("events/<int:pk>/merge", EventMergeView.as_view(), name="event-merge"),
    path("events/<int:pk>/duplicates", EventDuplicatesView.as_view(), name="event-duplicates"),
    path(
        "events/<int:pk>/attachments/<int:attachment_id>", AttachmentView.as_view(), name="event-attachment"
    ),
    path("event-categories", CategoryListView.as_view(), name="event-categories"),
    path("event-departments", DepartmentListView.as_view(), name="event-departments"),
    path("notifications", NotificationListView.as_view(), name="notifications"),
    # Open311 GeoReport v2, read-only (events/api/open311.py)
    re_path(r"^open311/v2/discovery\.(?P<fmt>json|xml)$", DiscoveryView.as_view(), name="open311-discovery"),
    re_path(r"^open311/v2/services\.(?P<fmt>json|xml)$", ServiceListView.as_view(), name="open311-services"),
    re_path(
        r"^open311/v2/services/(?P<code>[^/.]+)\.(?P<fmt>json|xml)$",
        ServiceDefinitionView.as_view(),
        name="open311-service",
    ),
    re_path(r"^open311/v2/requests\.(?P<fmt>json|xml)$", RequestListView.as_view(), name="open311-requests"),
    re_path(
        r"^open311/v2/requests/(?P<pk>\d+)\.(?P<fmt>json|xml)$",
        RequestDetailView.as_view(),
        name="open311-request",
    ),
]
