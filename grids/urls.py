from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import TopologyView, UnitGridViewSet
from .api_cameras import CameraDetailView, CameraListView, CamerasNearEventView, CamerasSeeingView
from .api_components import (
    ComponentClassListView,
    ComponentClustersView,
    ComponentDetailView,
    ComponentHeatmapView,
    ComponentListView,
    ComponentPhotoView,
    ComponentStatsView,
    ComponentStatusView,
)
from .api_staff import GridDepartmentsView, GridTeamView, StaffDetailView, StaffGridsView, StaffListView
from .api_tracks import PositionsView, TrackPlaybackView, TrackStatsView, TrackUploadView

router = SimpleRouter()
router.trailing_slash = "/?"  # accept both /regions/5105 and /regions/5105/
router.register("grids", UnitGridViewSet, basename="grid")

urlpatterns = [
    path("grids/topology", TopologyView.as_view(), name="grid-topology"),
    # grid staff and patrol tracks
    path("grids/<str:code>/team", GridTeamView.as_view(), name="grid-team"),
    path("grids/<str:code>/departments", GridDepartmentsView.as_view(), name="grid-departments"),
    path("grid-staff", StaffListView.as_view(), name="grid-staff-list"),
    path("grid-staff/<int:pk>", StaffDetailView.as_view(), name="grid-staff-detail"),
    path("staff/<int:pk>/grids", StaffGridsView.as_view(), name="staff-grids"),
    path("staff/<int:pk>/track", TrackPlaybackView.as_view(), name="staff-track"),
    path("positions", PositionsView.as_view(), name="positions"),
    path("positions/upload", TrackUploadView.as_view(), name="positions-upload"),
    path("track-stats", TrackStatsView.as_view(), name="track-stats"),
    # city components and cameras
    path("component-classes", ComponentClassListView.as_view(), name="component-classes"),
    path("components", ComponentListView.as_view(), name="components"),
    path("components/heatmap", ComponentHeatmapView.as_view(), name="components-heatmap"),
    path("components/clusters", ComponentClustersView.as_view(), name="components-clusters"),
    path("components/stats", ComponentStatsView.as_view(), name="components-stats"),
    path("components/<str:code>", ComponentDetailView.as_view(), name="component-detail"),
    path("components/<str:code>/status", ComponentStatusView.as_view(), name="component-status"),
    path("components/<str:code>/photos/<int:photo_id>", ComponentPhotoView.as_view(), name="component-photo"),
    path("cameras", CameraListView.as_view(), name="cameras"),
    path("cameras/seeing", CamerasSeeingView.as_view(), name="cameras-seeing"),
    path("cameras/near-event/<int:event_id>", CamerasNearEventView.as_view(), name="cameras-near-event"),
    path("cameras/<int:pk>", CameraDetailView.as_view(), name="camera-detail"),
    *router.urls,
]
