from django.contrib import admin

from {{ cookiecutter.project_slug }}.models import Note


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("text", "created_at")
