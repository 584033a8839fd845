"""Notes: the example app's one model and its one write, a note posted from a form."""

from django import forms
from django.core.cache import cache
from django.db import transaction
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_http_methods

from config import flags

from .models import NOTE_COUNT_KEY, Note
from .tasks import process_note

# The page shows the latest notes only, so it stays one cheap query however many exist.
LATEST_NOTES = 10
# Saving a note forgets the count at once (models.py); the timeout bounds how long a
# write that bypasses the model (raw SQL, a bulk update) leaves it wrong.
NOTE_COUNT_TIMEOUT = 300
# Shipped dark: each note's age shows only where an admin turns this flag on.
NOTE_AGES_FLAG = "note_ages"
# A web worker is busy for as long as an upload streams through it to storage; files
# much larger than this belong in direct-to-bucket uploads (presigned POSTs).
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ("text", "attachment")

    def clean_attachment(self):
        attachment = self.cleaned_data["attachment"]
        if attachment and attachment.size > MAX_ATTACHMENT_BYTES:
            raise forms.ValidationError(
                f"Attach a file of {filesizeformat(MAX_ATTACHMENT_BYTES)} or less."
            )
        return attachment


@require_http_methods(["GET", "HEAD", "POST"])
def notes(request):
    """GET: the latest notes under an empty form. POST: save a note, or show why not."""
    form, status = NoteForm(), 200
    if request.method == "POST":
        form = NoteForm(request.POST, request.FILES)
        if form.is_valid():
            note = form.save(commit=False)
            if note.attachment:
                # Uploaded before the transaction begins: a slow bucket holds this
                # request, never a database transaction. Should the save below fail,
                # what is left is a file no note links to, never a note without its file.
                note.attachment.save(note.attachment.name, note.attachment.file, save=False)
            # The task is a row in the same database: it commits with the note or not at
            # all, so no note is left unprocessed and no task points at a missing note.
            with transaction.atomic():
                note.save()
                process_note.enqueue(note.pk)
            # Post/Redirect/Get: reloading the page that follows does not post it again.
            return redirect("notes")
        status = 400
    context = {
        "form": form,
        "notes": Note.objects.all()[:LATEST_NOTES],
        # COUNT(*) reads every row; the cache, shared by all processes, saves repeating it.
        "note_count": cache.get_or_set(NOTE_COUNT_KEY, Note.objects.count, NOTE_COUNT_TIMEOUT),
        "show_ages": flags.is_active(request, NOTE_AGES_FLAG),
    }
    return render(request, "{{ cookiecutter.project_slug }}/notes.html", context, status=status)
