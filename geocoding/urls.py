"""Geocoding API routes."""

urlpatterns: list = []
