from django.urls import path
from rest_framework.routers import SimpleRouter

from .api.views import ExportView, ImportView, LocateView, RegionViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("regions", RegionViewSet, basename="region")

urlpatterns = [
    path("locate", LocateView.as_view(), name="locate"),
    path("import/<str:layer>", ImportView.as_view(), name="import"),
    path("export/<str:layer>", ExportView.as_view(), name="export"),
    *router.urls,
]
