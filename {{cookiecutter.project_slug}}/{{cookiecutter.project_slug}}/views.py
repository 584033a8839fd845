from django.conf import settings
from django.shortcuts import render

PROJECT_NAME = {{ cookiecutter.project_name | python_string(15) }}
DESCRIPTION = {{ cookiecutter.description | python_string(14) }}


def home(request):
    context = {
        "project_name": PROJECT_NAME,
        "description": DESCRIPTION,
        "release": settings.GIT_REVISION,
    }
    return render(request, "{{ cookiecutter.project_slug }}/home.html", context)
