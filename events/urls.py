from django.urls import path

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
]
