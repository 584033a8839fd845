from django.conf import settings
from django.shortcuts import render

PROJECT_NAME = {{ cookiecutter.project_name | tojson }}
DESCRIPTION = {{ cookiecutter.description | tojson }}


def home(request):
    context = {
        "project_name": PROJECT_NAME,
        "description": DESCRIPTION,
        "release": settings.GIT_REVISION,
    }
    return render(request, "{{ cookiecutter.project_slug }}/home.html", context)
