"""Point-layer query routes of the gazetteer (mounted under /api/v1/)."""

from django.urls import path

from .api_layers import DoorClustersView, DoorHeatmapView, DoorListView, DoorStatsView

urlpatterns = [
    path("doors", DoorListView.as_view(), name="doors"),
    path("doors/heatmap", DoorHeatmapView.as_view(), name="doors-heatmap"),
    path("doors/clusters", DoorClustersView.as_view(), name="doors-clusters"),
    path("doors/stats", DoorStatsView.as_view(), name="doors-stats"),
]
