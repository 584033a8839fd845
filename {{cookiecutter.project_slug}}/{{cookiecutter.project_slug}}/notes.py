"""Notes: the example app's one model and its one write, a note posted from a form."""

from django import forms
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from {{ cookiecutter.project_slug }}.models import Note
from {{ cookiecutter.project_slug }}.tasks import process_note

# The page shows the latest notes only, so it stays one cheap query however many exist.
LATEST_NOTES = 10


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ("text",)


@require_http_methods(["GET", "HEAD", "POST"])
def notes(request):
    """GET: the latest notes under an empty form. POST: save a note, or show why not."""
    form, status = NoteForm(), 200
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            # The task is a row in the same database: it commits with the note or not at
            # all, so no note is left unprocessed and no task points at a missing note.
            with transaction.atomic():
                note = form.save()
                process_note.enqueue(note.pk)
            # Post/Redirect/Get: reloading the page that follows does not post it again.
            return redirect("notes")
        status = 400
    context = {"form": form, "notes": Note.objects.all()[:LATEST_NOTES]}
    return render(request, "{{ cookiecutter.project_slug }}/notes.html", context, status=status)
