"""URL routes. /healthz and /readyz are answered by config.health's middleware."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # Sign in, sign out, password reset and change, with the users app's templates.
    # https://docs.djangoproject.com/en/6.1/topics/auth/default/#using-the-views
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("{{ cookiecutter.project_slug }}.urls")),
]
