from django.urls import path


def broken(request):
    raise RuntimeError("the database schema and the code disagree")


urlpatterns = [path("broken/", broken)]
