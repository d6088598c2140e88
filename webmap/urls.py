"""The web pages: / (→ the user's first page or /login/), /login/, the command center and W2's pages."""

from django.urls import path

from . import views, views_pages

app_name = "webmap"

urlpatterns = [
    path("", views.root, name="root"),
    path("login/", views.login_page, name="login"),
    path("map/", views.center, name="center"),
    path("map/track/", views_pages.track, name="track"),
    path("map/planner/", views_pages.planner, name="planner"),
    path("field/", views_pages.field, name="field"),
]
