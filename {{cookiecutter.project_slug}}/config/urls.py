"""URL routes. /healthz and /readyz are answered by config.health's middleware."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("{{ cookiecutter.project_slug }}.urls")),
]
