"""URL routes. /healthz and /readyz are answered by config.health's middleware."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from users.reset import ThrottledPasswordResetView

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    # Sign in, sign out, password reset and change, with the users app's templates;
    # the reset form throttled, and its email sent by the worker (users/reset.py).
    # https://docs.djangoproject.com/en/6.1/topics/auth/default/#using-the-views
    path(
        "accounts/password_reset/",
        ThrottledPasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("{{ cookiecutter.project_slug }}.urls")),
]
# Uploads on the local disk, in development; static() adds nothing unless DEBUG is on.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
