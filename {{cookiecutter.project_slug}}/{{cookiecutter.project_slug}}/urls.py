from django.urls import path

from {{ cookiecutter.project_slug }} import views

urlpatterns = [
    path("", views.home, name="home"),
]
