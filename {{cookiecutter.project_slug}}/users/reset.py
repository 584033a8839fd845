"""Password reset, throttled, and silent about which addresses have accounts.

Every submission takes the same path whether or not the address belongs to a user:
a few queries, one row, and a task queued for the worker, which looks the address up
and sends the email after the response has gone. So the page and its timing are the
same for both. An address gets at most RESET_EMAILS_PER_HOUR emails however often the
form is sent, and a client address sending more than RESET_REQUESTS_PER_ADDRESS an hour
gets a 429 page (which says nothing about any account).
https://cheatsheetseries.owasp.org/cheatsheets/Forgot_Password_Cheat_Sheet.html
"""

import hashlib
from datetime import timedelta

from django.contrib.auth.views import PasswordResetView
from django.db import connection, transaction
from django.shortcuts import render
from django.utils import timezone

from config.signin import request_client_address
from users.models import PasswordResetRequest
from users.tasks import send_password_reset

WINDOW = timedelta(hours=1)
# A person who lost an email or mistyped retries once or twice; more is an inbox being
# flooded on someone's behalf.
RESET_EMAILS_PER_HOUR = 3
# Enough for a household or office behind one address to reset a few accounts; a script
# trying address after address stops here.
RESET_REQUESTS_PER_ADDRESS = 10


def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class ThrottledPasswordResetView(PasswordResetView):
    def form_valid(self, form):
        address = request_client_address(self.request) or ""
        digest = email_digest(form.cleaned_data["email"])
        since = timezone.now() - WINDOW
        with transaction.atomic():
            # Concurrent requests for one email count one after the other.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [digest])
            recent = PasswordResetRequest.objects.filter(requested_at__gte=since)
            if recent.filter(address=address).count() >= RESET_REQUESTS_PER_ADDRESS:
                return render(self.request, "users/reset_throttled.html", status=429)
            emailed = recent.filter(email_digest=digest, emailed=True).count()
            send = emailed < RESET_EMAILS_PER_HOUR
            PasswordResetRequest.objects.filter(requested_at__lt=since).delete()
            PasswordResetRequest.objects.create(address=address, email_digest=digest, emailed=send)
            if send:
                send_password_reset.enqueue(
                    form.cleaned_data["email"], self.request.get_host(), self.request.is_secure()
                )
        return super(PasswordResetView, self).form_valid(form)
