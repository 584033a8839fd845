from django.urls import path

from {{ cookiecutter.project_slug }} import notes, views

urlpatterns = [
    path("", views.home, name="home"),
    path("notes/", notes.notes, name="notes"),
    path("readme/", views.readme, name="readme"),
]
