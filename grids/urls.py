from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import TopologyView, UnitGridViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("grids", UnitGridViewSet, basename="grid")

urlpatterns = [
    path("grids/topology", TopologyView.as_view(), name="grid-topology"),
    *router.urls,
]
