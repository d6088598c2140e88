from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("gis_core.urls")),
    path("api/v1/", include("grids.urls")),
    path("api/v1/", include("geocoding.urls")),
    path("api/v1/", include("geocoding.urls_layers")),
    path("api/v1/", include("jobs.urls")),
    path("api/v1/", include("events.urls")),
    path("api/v1/", include("civilization.urls")),
    path("api/v1/", include("webmap.urls_api")),  # map exports (folium HTML/PNG/PDF)
    path("", include("tiles.urls")),  # /tiles/… vector tiles, /basemap/… MapProxy
    path("", include("webmap.urls")),  # / → /map/ or /login/; the web pages
]

handler404 = "gis_core.api.errors.json_404"
handler500 = "config.middleware.server_error"  # database down → 503; else gis_core's JSON 500
